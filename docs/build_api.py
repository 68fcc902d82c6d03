"""Build the API reference of `langgraph_alma` from its docstrings, with pdoc.

    python docs/build_api.py                 # HTML into docs/api/ (not committed)
    python docs/build_api.py -o /tmp/api     # elsewhere
    python docs/build_api.py --check         # also fail on public names without a docstring

Every public module is rendered (no name part starting with `_`, no `__main__`). A module
whose optional dependency is not installed (say `langgraph_alma.mcp` without `mcp`) is
skipped with a note; any other import error fails the build.

>>> build(Path("/tmp/api"))                       # doctest: +SKIP
['langgraph_alma', 'langgraph_alma.alma', ...]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pdoc
import pdoc.doc
import pdoc.render

PACKAGE = "langgraph_alma"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "api"


def public_modules(package: str = PACKAGE) -> tuple[list[str], dict[str, str]]:
    """(importable public modules, {skipped module: missing dependency}), parents first."""
    found: list[str] = []
    skipped: dict[str, str] = {}

    def visit(name: str) -> None:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A missing third-party package is an optional extra; a missing module of our
            # own is a bug, and so is any other import error.
            if exc.name is None or exc.name.split(".")[0] == package:
                raise
            skipped[name] = exc.name
            return
        found.append(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not info.name.startswith("_"):
                visit(f"{name}.{info.name}")

    visit(package)
    return found, skipped


@contextmanager
def _submodules_from(names: list[str]) -> Iterator[None]:
    """Make pdoc list a package's submodules from `names`. pdoc takes them from the
    package's `__all__` when it has one, and ours name the public API, not submodules, so
    the navigation would otherwise stop at the top page."""
    original = pdoc.doc.Module.__dict__["submodules"]

    def submodules(self: pdoc.doc.Module) -> list[pdoc.doc.Module]:
        return [
            pdoc.doc.Module.from_name(n) for n in names if n.rpartition(".")[0] == self.modulename
        ]

    pdoc.doc.Module.submodules = property(submodules)  # type: ignore[assignment]
    try:
        yield
    finally:
        pdoc.doc.Module.submodules = original  # type: ignore[assignment]


def build(output: Path = DEFAULT_OUTPUT) -> list[str]:
    """Render every public module as HTML under `output`; returns the modules rendered."""
    modules, skipped = public_modules()
    for name, missing in skipped.items():
        print(f"skipped {name}: needs {missing!r}, which is not installed", file=sys.stderr)
    pdoc.render.configure(docformat="markdown", footer_text="langgraph-alma")
    with _submodules_from(modules), warnings.catch_warnings():
        # A package's spec already brings the submodules its `__all__` happens to name
        # (`nodes.learn` is a module and a function): pdoc warns that they repeat.
        warnings.filterwarnings("ignore", "The module specification .* adds a module named")
        pdoc.pdoc(*modules, output_directory=output)
    return modules


def _own_docstring(obj: object) -> str:
    """The docstring `obj` itself has: a class that inherits its parent's has none."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _variable_documented(name: str, value: object) -> bool:
    """A constant or type alias re-exported by a package is documented where it is
    defined (a string after the assignment, shown on that module's page), possibly a
    private module: look in every loaded module of the package."""
    ours = [m for n, m in sorted(sys.modules.items()) if n.split(".")[0] == PACKAGE]
    for module in ours:
        if getattr(module, name, None) is value:
            member = pdoc.doc.Module(module).get(name)
            if member is not None and member.docstring.strip():
                return True
    return False


def undocumented(modules: list[str]) -> list[str]:
    """Public names without a docstring: every module itself, and every name in a
    module's `__all__` (classes and functions need their own docstring)."""
    loaded = [importlib.import_module(m) for m in modules]
    missing: list[str] = []
    for module in loaded:
        if not (module.__doc__ or "").strip():
            missing.append(module.__name__)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if inspect.ismodule(value):
                continue
            if inspect.isclass(value) or callable(value):
                # pdoc hides a dataclass's generated "Name(field, ...)" docstring.
                doc = _own_docstring(value)
                if doc and not doc.startswith(f"{getattr(value, '__name__', '')}("):
                    continue
            elif _variable_documented(name, value):
                continue
            missing.append(f"{module.__name__}.{name}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail on undocumented names")
    args = parser.parse_args(argv)
    modules = build(args.output)
    print(f"{len(modules)} modules rendered into {args.output}")
    if args.check and (missing := undocumented(modules)):
        print("no docstring:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
