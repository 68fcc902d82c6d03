"""The API reference builds with pdoc (docs/build_api.py), renders every public module,
and every public name has a docstring."""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path
from typing import Any

import pytest

from tests.docs._markdown import DOCS

# Public names allowed to go without a docstring (none today).
KNOWN_UNDOCUMENTED: set[str] = set()


@pytest.fixture(scope="module")
def build_api() -> dict[str, Any]:
    return runpy.run_path(str(DOCS / "build_api.py"), run_name="build_api")


@pytest.fixture(scope="module")
def rendered(build_api: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("api")
    build_api["build"](out)
    return out


def test_every_public_module_is_rendered(build_api: dict[str, Any], rendered: Path) -> None:
    modules, _ = build_api["public_modules"]()
    assert "langgraph_alma.alma" in modules and "langgraph_alma.domains.schema" in modules
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    for name in modules:
        page = rendered / (name.replace(".", "/") + ".html")
        assert page.is_file(), f"no page for {name}"


def test_public_names_appear_in_their_module_page(
    build_api: dict[str, Any], rendered: Path
) -> None:
    modules, _ = build_api["public_modules"]()
    absent = []
    for name in modules:
        html = (rendered / (name.replace(".", "/") + ".html")).read_text()
        for member in getattr(importlib.import_module(name), "__all__", ()):
            if f'id="{member}"' not in html:
                absent.append(f"{name}.{member}")
    assert not absent, f"not rendered: {absent}"


def test_public_names_have_docstrings(build_api: dict[str, Any]) -> None:
    modules, _ = build_api["public_modules"]()
    missing = set(build_api["undocumented"](modules))
    new = sorted(missing - KNOWN_UNDOCUMENTED)
    # A constant is documented by a string literal on the line after its assignment.
    assert not new, f"public names without a docstring: {new}"


def test_undocumented_finds_a_missing_docstring(build_api: dict[str, Any]) -> None:
    """The check itself: a class that only inherits its parent's docstring is caught."""
    progress = importlib.import_module("langgraph_alma.progress")
    original = vars(progress.WorkItemNotFound).get("__doc__")
    progress.WorkItemNotFound.__doc__ = None
    try:
        assert "langgraph_alma.progress.WorkItemNotFound" in build_api["undocumented"](
            ["langgraph_alma.progress"]
        )
    finally:
        progress.WorkItemNotFound.__doc__ = original


def test_modules_needing_a_missing_extra_are_skipped(
    build_api: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module whose third-party dependency is not installed is skipped and named; a
    module of the package that does not exist is an error, not an optional extra."""
    pkg = tmp_path / "docs_probe_pkg"
    (pkg / "extra").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Probe."""\n')
    (pkg / "plain.py").write_text('"""Plain."""\n')
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    (pkg / "extra" / "__init__.py").write_text("import surely_not_installed_pkg_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules, skipped = build_api["public_modules"]("docs_probe_pkg")
    assert modules == ["docs_probe_pkg", "docs_probe_pkg.plain"]
    assert skipped == {"docs_probe_pkg.extra": "surely_not_installed_pkg_xyz"}

    (pkg / "broken.py").write_text("import docs_probe_pkg.missing\n")
    with pytest.raises(ModuleNotFoundError, match="docs_probe_pkg.missing"):
        build_api["public_modules"]("docs_probe_pkg")
