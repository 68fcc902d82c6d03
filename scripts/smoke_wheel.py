"""Smoke-test an installed langgraph-alma the way a user has it: `pip install langgraph-alma`
(no extras), then each extra on top. `.ci/run` installs the built wheel into a clean venv and
runs this script with that venv's Python, from an empty directory (so the checkout's source
cannot stand in for the installed package).

    python scripts/smoke_wheel.py base            # no extras installed
    python scripts/smoke_wheel.py extra mcp       # after pip install "langgraph-alma[mcp]"
    python scripts/smoke_wheel.py extra openai | studio | notebooks

`base` imports every module of the package (the extras' modules must raise `MissingExtra`
naming their extra), runs `alma --help`, `alma demo` and then the commands the demo prints
(threads, memories search, history), runs a short graph on `AlmaSaver` and `AlmaStore`, and
checks that `alma mcp` and the OpenAI extractor print the "needs the X extra" line.
The database is the embedded server in `ALMA_DATA_DIR` (default: `.alma/pgdata` in the
working directory), or `ALMA_DATABASE_URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import pkgutil
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

# Modules that need an extra, and the extra: everything else imports with no extra at all.
EXTRA_MODULES = {
    "langgraph_alma.extraction.openai": "openai",
    "langgraph_alma.mcp": "mcp",
}
# What each extra brings that the package or its notebooks import (import name -> extra).
EXTRA_IMPORTS = {
    "openai": ["openai"],
    "mcp": ["mcp", "starlette", "uvicorn"],
    "studio": ["langgraph_cli", "langgraph_api", "langgraph_runtime_inmem"],
    "notebooks": ["nbclient", "nbformat", "ipykernel", "matplotlib", "IPython"],
}
CHECKOUT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def extra_of(module: str) -> str | None:
    """The extra `module` needs, or None when the plain install has all it imports."""
    for prefix, extra in EXTRA_MODULES.items():
        if module == prefix or module.startswith(prefix + "."):
            return extra
    return None


def package_modules() -> list[str]:
    """Every module of the installed package, `__main__` modules left out (importing one
    runs nothing here, but they are entry points, not library modules)."""
    import langgraph_alma

    found = ["langgraph_alma"]
    for info in pkgutil.walk_packages(langgraph_alma.__path__, "langgraph_alma."):
        if not info.name.endswith(".__main__"):
            found.append(info.name)
    return sorted(found)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"smoke: FAILED: {what}")
    print(f"smoke: ok: {what}", flush=True)


def run(*args: str, expect: int = 0, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command of the venv (`alma ...`, `python ...`) and check its exit code."""
    cmd = [str(BIN / args[0]), *args[1:]] if (BIN / args[0]).exists() else list(args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != expect:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"smoke: FAILED: {shlex.join(args)} exited {done.returncode}")
    return done


def installed_not_checkout() -> None:
    import langgraph_alma

    where = Path(langgraph_alma.__file__).resolve().parent
    check(
        where != CHECKOUT / "langgraph_alma"
        and Path(sys.prefix).resolve() in where.parents
        and "site-packages" in where.parts,
        f"langgraph_alma is the one installed in this venv ({where})",
    )


def imports_without_extras() -> None:
    from langgraph_alma.errors import MissingExtra

    plain, gated = 0, 0
    for module in package_modules():
        extra = extra_of(module)
        try:
            importlib.import_module(module)
        except MissingExtra as exc:
            check(
                extra == exc.extra and f'pip install "langgraph-alma[{extra}]"' in str(exc),
                f"import {module}: {exc}",
            )
            gated += 1
            continue
        if extra is not None:  # one line per module would bury the rest of the log
            check(False, f"import {module} without the {extra} extra raises MissingExtra")
        plain += 1
    check(plain > 50 and gated >= 2, f"{plain} modules import with no extra, {gated} need one")


def missing_extras_say_so() -> None:
    done = run("alma", "mcp", expect=1)
    check(
        'needs the mcp extra: pip install "langgraph-alma[mcp]"' in done.stderr
        and "Traceback" not in done.stderr,
        f"alma mcp without the extra: {done.stderr.strip()}",
    )
    done = run("python", "-m", "langgraph_alma.mcp", expect=1)
    check(
        'needs the mcp extra: pip install "langgraph-alma[mcp]"' in done.stderr.splitlines()[-1],
        f"python -m langgraph_alma.mcp without the extra: {done.stderr.splitlines()[-1]}",
    )
    from langgraph_alma import extraction
    from langgraph_alma.config import Settings
    from langgraph_alma.errors import ConfigError, MissingExtra

    try:
        extraction.OpenAIExtractor  # noqa: B018
    except MissingExtra as exc:
        check(exc.extra == "openai", f"OpenAIExtractor without the extra: {exc}")
    else:
        check(False, "OpenAIExtractor without the extra raises MissingExtra")
    try:
        extraction.default_extractor(Settings(openai_api_key="sk-smoke"))
    except ConfigError as exc:
        check("langgraph-alma[openai]" in str(exc), f"an OpenAI key without the extra: {exc}")
    else:
        check(False, "default_extractor with a key and no openai raises ConfigError")


def cli_and_demo() -> None:
    done = run("alma", "--help")
    check("demo" in done.stdout and "threads" in done.stdout, "alma --help lists the commands")
    done = run("python", "-m", "langgraph_alma", "--help")
    check("demo" in done.stdout, "python -m langgraph_alma --help")
    done = run("alma", "demo", "--runs", "7")
    check("run 7: strategy 'retry with backoff'" in done.stdout, "alma demo learns and resumes")
    commands = [
        shlex.split(line.strip())
        for line in done.stdout.splitlines()
        if line.strip().startswith("alma --tenant ")
    ]
    check(
        len(commands) == 3, f"alma demo ends with the commands that show what it stored: {commands}"
    )
    threads, memories, history = (run(*cmd).stdout for cmd in commands)
    check("(7)" in threads and "-run-7" in threads, "the printed `threads` lists the demo's runs")
    check("retry with backoff" in memories, "the printed `memories search` finds what it learned")
    check("learn" in history and "step" in history, "the printed `history` shows checkpoints")


def graph_on_saver_and_store() -> None:
    """A one-node graph on AlmaSaver + AlmaStore: state resumes from a new saver, and what
    the node stored is found by search from a new store."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph
    from langgraph.store.base import BaseStore

    from langgraph_alma import AlmaSaver, AlmaStore, AsyncAlmaSaver, AsyncAlmaStore

    class State(TypedDict):
        count: int

    def bump(state: State, *, store: BaseStore) -> State:
        store.put(("smoke", "notes"), f"n{state['count']}", {"text": f"count {state['count']}"})
        return {"count": state["count"] + 1}

    builder = StateGraph(State)
    builder.add_node("bump", bump)
    builder.add_edge(START, "bump")
    builder.add_edge("bump", END)
    tenant, thread = f"smoke-{uuid.uuid4().hex[:8]}", "smoke-thread"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    with AlmaSaver.from_conn_string() as saver, AlmaStore.from_conn_string() as store:
        saver.setup()
        store.setup()
        graph = builder.compile(checkpointer=saver, store=store)
        graph.invoke({"count": 1}, config)
        graph.invoke({"count": 41}, config)
    with AlmaSaver.from_conn_string() as saver, AlmaStore.from_conn_string() as store:
        state = builder.compile(checkpointer=saver).get_state(config)
        check(state.values == {"count": 42}, f"a new saver resumes the thread: {state.values}")
        found = store.for_tenant(tenant).search(("smoke", "notes"))
        check(sorted(i.key for i in found) == ["n1", "n41"], "a new store finds what was put")

    async def run_async() -> dict:
        async with (
            AsyncAlmaSaver.from_conn_string() as saver,
            AsyncAlmaStore.from_conn_string() as store,
        ):
            graph = builder.compile(checkpointer=saver, store=store)
            return await graph.ainvoke({"count": 100}, config)

    check(asyncio.run(run_async()) == {"count": 101}, "the same graph on ainvoke (async pair)")


def extra_openai() -> None:
    from langgraph_alma.config import Settings
    from langgraph_alma.extraction import OpenAIExtractor, default_extractor

    chosen = default_extractor(Settings(openai_api_key="sk-smoke"))
    check(isinstance(chosen, OpenAIExtractor), "with the extra, a key picks OpenAIExtractor")


def extra_mcp() -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from langgraph_alma.mcp import TOOLS

    check("--http" in run("alma", "mcp", "--help").stdout, "alma mcp --help")

    async def list_tools() -> list[str]:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "langgraph_alma", "mcp"],
            env=dict(os.environ),
            cwd=os.getcwd(),
        )
        async with Client(params) as client:
            return [t.name for t in (await client.list_tools()).tools]

    names = asyncio.run(list_tools())
    check(
        len(names) == len(TOOLS) and "alma_retrieve" in names, f"alma mcp serves {len(names)} tools"
    )


def extra_studio() -> None:
    from langgraph_cli.config import validate_config_file

    from langgraph_alma import studio

    config = CHECKOUT / "examples" / "studio" / "langgraph.json"
    validated = validate_config_file(config)
    check(
        validated["store"] == {"path": "langgraph_alma.studio.store"},
        "langgraph-cli accepts examples/studio/langgraph.json",
    )
    run("langgraph", "--help")

    async def open_factories() -> str | None:
        async with studio.checkpointer() as saver, studio.store() as store:
            await store.aput(("smoke",), "studio", {"text": "factories open"})
            item = await store.aget(("smoke",), "studio")
            return type(saver).__name__ if item else None

    check(asyncio.run(open_factories()) == "AsyncAlmaSaver", "the Studio factories open and serve")


def extra_notebooks() -> None:
    """Run notebooks/coding.ipynb headless, as `jupyter nbconvert --execute` would, on a
    `python3` kernel of this venv."""
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient

    here = Path.cwd()
    write_kernel_spec(here / "jupyter" / "kernels" / "python3")
    os.environ.update(JUPYTER_PATH=str(here / "jupyter"), MPLBACKEND="Agg")
    notebook = nbformat.read(CHECKOUT / "notebooks" / "coding.ipynb", as_version=4)
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(here)}}
    )
    client.execute()  # raises CellExecutionError, with the cell's traceback, if one fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    check(not [o for o in outputs if o.output_type == "error"], "notebooks/coding.ipynb runs")
    check(any("image/png" in o.get("data", {}) for o in outputs), "and draws its plot")


EXTRAS = {
    "openai": extra_openai,
    "mcp": extra_mcp,
    "studio": extra_studio,
    "notebooks": extra_notebooks,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("base", help="the install with no extras")
    extra = sub.add_parser("extra", help="one extra, installed on top")
    extra.add_argument("name", choices=sorted(EXTRAS))
    args = parser.parse_args(argv)
    installed_not_checkout()
    if args.what == "base":
        for name, modules in EXTRA_IMPORTS.items():
            present = [m for m in modules if importlib.util.find_spec(m) is not None]
            check(not present, f"no {name} extra installed (found none of {modules})")
        imports_without_extras()
        missing_extras_say_so()
        cli_and_demo()
        graph_on_saver_and_store()
    else:
        EXTRAS[args.name]()
    print(f"smoke: {' '.join(argv or sys.argv[1:])} passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
