"""Every third-party module the package imports is a declared dependency, or an extra's
when only that extra's modules import it: an AST scan of langgraph_alma/ against
pyproject.toml, so adding an undeclared import fails here (as `click` did: imported by the
CLI, declared by nobody, there only because another package pulled it in)."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.packaging import smoke_wheel

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "langgraph_alma"
# Installed with the package that pins it exactly (pydantic pins pydantic-core ==), so it
# can never be missing or of another version than the declared dependency expects.
PINNED_BY = {"pydantic-core": "pydantic"}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[str]:
    """Absolute imports executed at run time (function bodies included, `if TYPE_CHECKING`
    blocks not)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            yield from (name for child in node.orelse for name in _imports(child))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module
        yield from _imports(node)


def third_party_imports() -> dict[str, dict[str, set[str]]]:
    """{module file's dotted name: {top-level import: lines}} for non-stdlib imports."""
    found: dict[str, dict[str, set[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("__future__", "langgraph_alma"):
                continue
            found.setdefault(module, {}).setdefault(top, set()).add(name)
    return found


def _declared(requirements: list[str]) -> set[str]:
    """Distribution names `requirements` install directly, their own extras included
    (`psycopg[pool]` declares psycopg-pool)."""
    names: set[str] = set()
    for text in requirements:
        req = Requirement(text)
        names.add(canonicalize_name(req.name))
        for extra in req.extras:
            for dep in importlib.metadata.requires(req.name) or []:
                sub = Requirement(dep)
                if sub.marker is not None and sub.marker.evaluate({"extra": extra}):
                    names.add(canonicalize_name(sub.name))
    return names


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_every_import_is_declared_by_the_package_or_its_extra() -> None:
    project = _project()
    core = _declared(project["dependencies"])
    extras = {e: _declared(reqs) for e, reqs in project["optional-dependencies"].items()}
    distributions = importlib.metadata.packages_distributions()
    undeclared = []
    for module, imports in third_party_imports().items():
        extra = smoke_wheel.extra_of(module)
        allowed = core | (extras[extra] if extra else set())
        for top, names in imports.items():
            dists = {canonicalize_name(d) for d in distributions.get(top, [])}
            dists |= {canonicalize_name(PINNED_BY[d]) for d in dists if d in PINNED_BY}
            if not dists & allowed:
                where = f"the {extra} extra" if extra else "dependencies"
                undeclared.append(
                    f"{module} imports {sorted(names)} ({sorted(dists)}): not in {where}"
                )
    assert not undeclared, "\n".join(undeclared)


def test_the_scan_sees_what_the_package_imports() -> None:
    # Guards the guard: a scan that found nothing would pass the test above.
    found = third_party_imports()
    assert "typer" in found["langgraph_alma.cli.app"]
    assert "openai" in found["langgraph_alma.extraction.openai"]
    assert "mcp" in found["langgraph_alma.mcp.server"]
    assert "psycopg_pool" in found["langgraph_alma.db.connect"]
    assert "click" not in found["langgraph_alma.cli.app"]  # typer 0.20+ vendors its click
    # TYPE_CHECKING-only imports do not count: extraction/__init__ names OpenAIExtractor there.
    assert "openai" not in found.get("langgraph_alma.extraction", {})


def test_each_extras_module_is_in_the_package() -> None:
    for module in smoke_wheel.EXTRA_MODULES:
        path = PACKAGE.parent / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module
    assert set(smoke_wheel.EXTRA_IMPORTS) <= set(_project()["optional-dependencies"])


def test_oldest_constraints_pin_every_lower_bound() -> None:
    # scripts/oldest_deps.sh tests the floors only if its constraints are the floors.
    pins: dict[str, Version] = {}
    for line in (ROOT / "scripts" / "constraints-oldest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    project = _project()
    for text in [*project["dependencies"], *project["optional-dependencies"]["openai"]]:
        req = Requirement(text)
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{text}: a dependency needs one tested lower bound"
        assert pins.get(canonicalize_name(req.name)) == floors[0], f"{text} vs the constraints"
    assert pins["psycopg-binary"] == pins["psycopg"]  # psycopg[binary] pins it exactly
