"""Public seams between packages (STYLE.md): no module of `langgraph_alma` imports a
`_`-prefixed module or name of another of its packages, or reaches a `_`-prefixed attribute
that only another package defines. Read from the source with `ast`, no import needed.

A reach-in is `x._name` (or `getattr(x, "_name")`) on anything but `self`/`cls`, where
`_name` is defined in another package and not in the module's own; a name both define
(`_run`, say) is taken as the module's own, so this test catches most reach-ins, not all.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "langgraph_alma"

# Reach-ins that stay until the store and the saver offer public seams (their rewrite is
# under way). Each is (module, private name): why it is here. Remove an entry with its
# reach-in: the test fails on entries that no longer match anything.
ALLOWED: dict[tuple[str, str], str] = {}


def _package(path: Path) -> str:
    """The top-level package of a module: `store` for store/_core.py, `config` for config.py."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _trees() -> dict[Path, ast.Module]:
    return {f: ast.parse(f.read_text(), str(f)) for f in sorted(PACKAGE.rglob("*.py"))}


def _definitions(trees: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """Every name each package binds: functions, classes, assigned names and attributes."""
    defined: dict[str, set[str]] = defaultdict(set)
    for path, tree in trees.items():
        names = defined[_package(path)]
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return defined


def reach_ins(trees: dict[Path, ast.Module]) -> dict[tuple[str, str], list[int]]:
    """{(module, private name): [line, ...]} of every reach-in into another package."""
    defined = _definitions(trees)
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    for path, tree in trees.items():
        own = _package(path)
        module = path.relative_to(PACKAGE).as_posix()

        def elsewhere(name: str, own: str = own) -> bool:
            return name not in defined[own] and any(
                name in names for pkg, names in defined.items() if pkg != own
            )

        for node in ast.walk(tree):
            hits: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "langgraph_alma."
            ):
                parts = node.module.split(".")[1:]  # type: ignore[union-attr]  # checked above
                if parts[0] != own:
                    hits += [".".join(parts[: i + 1]) for i, p in enumerate(parts) if _private(p)]
                    hits += [a.name for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")[1:]
                    if alias.name.startswith("langgraph_alma.") and parts[0] != own:
                        hits += [
                            ".".join(parts[: i + 1]) for i, p in enumerate(parts) if _private(p)
                        ]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                mine = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                if not mine and elsewhere(node.attr):
                    hits.append(node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr", "setattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _private(node.args[1].value)
                and elsewhere(node.args[1].value)
            ):
                hits.append(node.args[1].value)
            for name in hits:
                found[(module, name)].append(node.lineno)
    return found


@pytest.fixture(scope="module")
def found() -> dict[tuple[str, str], list[int]]:
    return reach_ins(_trees())


def test_no_module_reaches_into_another_package(found) -> None:
    new = {
        f"{m}:{lines[0]}: {name}" for (m, name), lines in found.items() if (m, name) not in ALLOWED
    }
    assert not new, f"private names of another package (offer a public seam): {sorted(new)}"


def test_every_allowed_reach_in_still_exists(found) -> None:
    gone = sorted(f"{m}: {name}" for m, name in ALLOWED if (m, name) not in found)
    assert not gone, f"these reach-ins are gone: remove them from ALLOWED: {gone}"


def test_reach_ins_are_found(tmp_path: Path) -> None:
    """The scan catches each kind of reach-in, and leaves a package's own names alone."""
    files = {
        "store/_core.py": "class StoreCore:\n    def _plan(self): ...\nRRF_K = 60\n",
        "store/store.py": "class AlmaStore:\n    def __init__(self):\n        self._core = 1\n",
        "graph/memory.py": "class G:\n    def __init__(self):\n        self._own = 1\n",
        "confidence/engine.py": (
            "from langgraph_alma.store._core import RRF_K\n"
            "import langgraph_alma.store._core\n"
            "def f(store, g):\n"
            "    store._core.x; g._own; self._core\n"
            "    return getattr(store, '_core', None)\n"
        ),
    }
    trees = {}
    for name, text in files.items():
        path = PACKAGE / name  # only the paths' shapes matter: nothing is read from them
        trees[path] = ast.parse(text)
    hits = reach_ins(trees)
    assert set(hits) == {
        ("confidence/engine.py", "store._core"),
        ("confidence/engine.py", "_core"),
        ("confidence/engine.py", "_own"),
    }
    assert hits[("confidence/engine.py", "store._core")] == [1, 2]
    assert sorted(hits[("confidence/engine.py", "_core")]) == [4, 5]
