"""Generate the sync facade `langgraph_alma/alma/_sync.py` from `_async.py`.

`AsyncAlma` is the source of truth; `Alma` is the same code with `async`/`await` removed
and the async names swapped for their sync twins (as psycopg and httpcore do). Edit
`_async.py`, then run `python scripts/unasync.py`; `--check` exits 1 when `_sync.py` is
stale (a test runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

FACADE = Path(__file__).resolve().parent.parent / "langgraph_alma" / "alma"
SOURCE, TARGET = FACADE / "_async.py", FACADE / "_sync.py"

DOCSTRING = '''"""`Alma`: ALMA's API, sync. GENERATED from `_async.py` by `scripts/unasync.py`: edit
that file and run `python scripts/unasync.py`, never this one.
"""'''

# (pattern, replacement), applied in order.
RULES: list[tuple[str, str]] = [
    (r"\basync def ", "def "),
    (r"\basync with ", "with "),
    (r"\bawait ", ""),
    (r"\bAsyncAlmaSaver\b", "AlmaSaver"),
    (r"\bAsyncAlmaStore\b", "AlmaStore"),
    (r"\bAsyncGraphMemory\b", "GraphMemory"),
    (r"\bAsyncAlma\b", "Alma"),
    (r"\bAsyncExitStack\b", "ExitStack"),
    (r"\barun_store_plan\b", "run_store_plan"),
    (r"\._arun\(", "._run("),
    (r"\balist_tenants\b", "list_tenants"),
    (r"\baextract\b", "extract"),
    (r"\baembed_documents\b", "embed_documents"),
    (r"\benter_async_context\b", "enter_context"),
    (r"\baclose\b", "close"),
    (r"\baatomic\b", "atomic"),
    (r"\bastore_atomic\b", "store_atomic"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"ALMA's API, async\.", "ALMA's API, sync."),
]


def unasync(text: str) -> str:
    """The sync twin of the async facade's source."""
    body = text.split('"""', 2)[2]  # drop the module docstring: the sync file has its own
    for pattern, replacement in RULES:
        body = re.sub(pattern, replacement, body)
    return DOCSTRING + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if _sync.py is stale")
    args = parser.parse_args(argv)
    wanted = unasync(SOURCE.read_text())
    if args.check:
        if TARGET.read_text() != wanted:
            print(f"{TARGET} is stale: run python scripts/unasync.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
