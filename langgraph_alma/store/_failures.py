"""When a store batch fails in the database: what to call it, and whether to try again.

The batch rolled back whole, so trying it again is safe; a deadlock or a serialization
conflict is transient and is retried inside the store (a few times, with jittered
backoff), anything else reaches the caller as `StoreBatchFailed`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import psycopg
from langgraph.store.base import GetOp, Op, PutOp, SearchOp

from langgraph_alma.errors import StoreBatchFailed

# Conflicts that a retry of the whole batch resolves: it rolled back, nothing was written.
TRANSIENT_ERRORS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (a `StoreBatchFailed`) came from a deadlock or serialization conflict."""
    return isinstance(exc, StoreBatchFailed) and isinstance(exc.__cause__, TRANSIENT_ERRORS)


def retry_delay(attempt: int, attempts: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before try `attempt + 2` of a batch whose try `attempt + 1` hit a
    transient conflict (exponential from 5 ms, jittered so that the conflicting callers
    do not meet again); None when the `attempts` tries are used up.

    >>> retry_delay(0, 1) is None
    True
    """
    if attempt + 1 >= attempts:
        return None
    return min(1.0, 0.005 * 2**attempt) * (0.5 + (rng or random).random())


def describe_ops(ops: Sequence[Op]) -> str:
    """A short account of a batch, for error messages.

    >>> describe_ops([PutOp(("a",), "k1", {}), PutOp(("a",), "k2", {}), SearchOp(("a",))])
    "2 puts, first ('a',) 'k1'; 1 search"
    """
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for op in ops:
        kind = {GetOp: "get", PutOp: "put", SearchOp: "search"}.get(type(op), "list")
        counts[kind] = counts.get(kind, 0) + 1
        if isinstance(op, GetOp | PutOp):
            first.setdefault(kind, f"{op.namespace!r:.60} {op.key!r:.40}")
    parts = []
    for kind, n in counts.items():
        text = f"{n} {kind}{'s' if n > 1 else ''}"
        if kind in first:
            text += f", first {first[kind]}" if n > 1 else f" {first[kind]}"
        parts.append(text)
    return "; ".join(parts)
