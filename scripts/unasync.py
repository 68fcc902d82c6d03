"""Generate every sync twin of the package from its async source (as psycopg and httpcore do).

Two shapes, one set of rules:
- the facade: `langgraph_alma/alma/_sync.py` (`Alma`) is the whole of `_async.py`
  (`AsyncAlma`) with `async`/`await` removed and the async names swapped for their sync twins;
- the shells (`SHELLS`): one module holds the hand-written `Async*` classes, then the marker
  line `GENERATED_MARK`, then their sync twins, generated (so a reader sees the mirror at once
  and every public import path stays where it was).

Edit the async code, then run `python scripts/unasync.py`; `--check` exits 1 when a generated
file is stale (tests/test_unasync.py runs it). Generated files are formatted with ruff.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "langgraph_alma"
FACADE = PACKAGE / "alma"
SOURCE, TARGET = FACADE / "_async.py", FACADE / "_sync.py"

# Modules whose sync classes are generated from the async classes above `GENERATED_MARK`.
SHELLS: list[Path] = [
    PACKAGE / "store" / "store.py",
    PACKAGE / "progress" / "tracker.py",
    PACKAGE / "session" / "manager.py",
    PACKAGE / "session" / "initializer.py",
    PACKAGE / "confidence" / "engine.py",
    PACKAGE / "graph" / "memory.py",
    PACKAGE / "checkpoint" / "saver.py",
    PACKAGE / "checkpoint" / "_coalesce.py",
    PACKAGE / "db" / "pools.py",
    PACKAGE / "alma" / "protocols.py",
]

GENERATED_MARK = (
    "# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----"
)

DOCSTRING = '''"""`Alma`: ALMA's API, sync. GENERATED from `_async.py` by `scripts/unasync.py`: edit
that file and run `python scripts/unasync.py`, never this one.
"""'''

# (pattern, replacement), applied in order.
RULES: list[tuple[str, str]] = [
    (r"\basync def ", "def "),
    (r"\basync with ", "with "),
    (r"\basync for ", "for "),
    (r"\bawait asyncio\.to_thread\(\s*([\w.]+), ", r"\1("),
    (r"\bawait asyncio\.to_thread\(([\w.]+)\)", r"\1()"),
    (r"\bawait asyncio\.sleep\(", "time.sleep("),
    (r"\bawait ", ""),
    (r"\bAsyncAlmaSaver\b", "AlmaSaver"),
    (r"\bAsyncAlmaStore\b", "AlmaStore"),
    (r"\bAsyncGraphMemory\b", "GraphMemory"),
    (r"\bAsyncAlma\b", "Alma"),
    (r"\bAsyncExitStack\b", "ExitStack"),
    # ---- the store (store/store.py; issue 17, branch store17) ----
    # Below the `await` rule: `await asyncio.sleep(d)` is `asyncio.sleep(d)` here.
    (r"\b_OnEventLoop\b", "_OnThreads"),
    (r"\b_aone_at_a_time\b", "_one_at_a_time"),
    (r"\b_a(embed|execute)\b", r"_\1"),
    (r"\baexecute_on\b", "execute_on"),
    (r"\.arun\(", ".run("),
    (r"\bdef arun\(", "def run("),
    (r"\bamigrate\b", "migrate"),
    (r"\basyncio\.sleep\(", "time.sleep("),
    (r"\ba(get|put|search|delete|list_namespaces)\(", r"\1("),
    (r"\b(_?)a(index_backlog|drain|build_ann)\b", r"\1\2"),  # the HNSW backlog (issue 11)
    # ---- end of the store's rules ----
    # Every other `AsyncX` (AsyncProgressTracker, AsyncConnectionPool, AsyncIterator...) is `X`.
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"\bAbstractAsyncContextManager\b", "AbstractContextManager"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\barun_store_plan\b", "run_store_plan"),
    (r"\barun_plan\b", "run_plan"),
    (r"\baborrow\b", "borrow"),
    (r"\badrive\b", "drive"),
    (r"\._arun\(", "._run("),
    (r"\bdef _arun\(", "def _run("),
    (r"\.arun\(", ".run("),
    (r"\bdef arun\(", "def run("),
    (r"\balist_tenants\b", "list_tenants"),
    (r"\b_outcome_on_loop\b", "_outcome_on_thread"),
    (r"\b_held_on_loop\b", "_held_on_thread"),
    (r"\bacount_items\b", "count_items"),
    (r"\baextract\b", "extract"),
    (r"\baexpand_tasks\b", "expand_tasks"),
    (r"\baembed_documents\b", "embed_documents"),
    (r"\babatch\b", "batch"),
    (r"\benter_async_context\b", "enter_context"),
    (r"\baclose\b", "close"),
    (r"\baatomic\b", "atomic"),
    (r"\bastore_atomic\b", "store_atomic"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"ALMA's API, async\.", "ALMA's API, sync."),
    # The saver: LangGraph's async checkpointer methods (`aput`...) and their helpers.
    (r"\b_OnEventLoop\b", "_OnThreads"),
    (r"\bamigrate\b", "migrate"),
    (r"\b_a(read|sweep_once)\b", r"_\1"),
    (
        r"\ba(get_tuple|list|put|put_writes|list_threads|delete_thread|delete_for_runs|"
        r"copy_thread|prune|get_delta_channel_history|sweep_ttl|expired_threads|"
        r"set_thread_ttl|inactive_threads|delete_threads)\b",
        r"\1",
    ),
]


def unasync_code(text: str) -> str:
    """`text` (async code) with every rule applied: its sync twin."""
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text)
    return text


def unasync(text: str) -> str:
    """The sync twin of the async facade's source."""
    body = unasync_code(text.split('"""', 2)[2])  # the sync file has its own docstring
    if "asyncio." not in body:  # `await asyncio.to_thread(f, x)` became `f(x)`
        body = body.replace("import asyncio\n", "", 1)
    return DOCSTRING + body


def async_classes(head: str) -> list[str]:
    """The source of each top-level `Async*` class of `head`, decorators included."""
    lines = head.splitlines(keepends=True)
    out = []
    for node in ast.parse(head).body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Async"):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            out.append("".join(lines[start : node.end_lineno]))
    return out


def ruff_format(text: str, path: Path) -> str:
    """`text` as `ruff format` writes it (the project's settings)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff format failed on {path}:\n{done.stderr}")
    return done.stdout


def twin_module(text: str, path: Path) -> str:
    """A shell module with its sync classes regenerated below `GENERATED_MARK`."""
    head, found, _ = text.partition(GENERATED_MARK)
    if not found:
        raise SystemExit(f"{path} has no line {GENERATED_MARK!r}")
    classes = async_classes(head)
    if not classes:
        raise SystemExit(f"{path} has no Async* class above {GENERATED_MARK!r}")
    body = "\n\n".join(unasync_code(c) for c in classes)
    return ruff_format(head.rstrip() + "\n\n\n" + GENERATED_MARK + "\n\n\n" + body, path)


def wanted(path: Path) -> str:
    """What the generated file `path` (`TARGET` or one of `SHELLS`) should hold."""
    if path == TARGET:  # formatted too: renames shorten lines ruff had spread out
        return ruff_format(unasync(SOURCE.read_text()), path)
    return twin_module(path.read_text(), path)


def generated() -> dict[Path, str]:
    """Every generated file and what it should hold."""
    return {path: wanted(path) for path in [TARGET, *SHELLS]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args(argv)
    stale = 0
    for path, wanted in generated().items():
        if path.read_text() == wanted:
            continue
        if args.check:
            print(f"{path} is stale: run python scripts/unasync.py", file=sys.stderr)
            stale += 1
        else:
            path.write_text(wanted)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
