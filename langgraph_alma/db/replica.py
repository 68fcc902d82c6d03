"""Reads on a streaming replica, without reading older than what this process wrote.

A `ReadRoute` wraps the replica's pool (or connection). Writers record the transaction id
of each write they send (`tracking(plan, route)` adds one function call to the plan's
batches, no extra round trip); a routed read first checks, in the same pipeline, that every
such write not yet seen there is visible on the replica (`guarded(plan, route)`). If one is
not, the read runs on the primary instead: a read right after this process's own write
never sees the state before it, and the replica serves every read it can.

Why transaction ids and not WAL positions: a position read inside the writing transaction
is before its commit record, so "replayed past it" does not mean "committed there".

>>> route = ReadRoute(replica_pool)                                  # doctest: +SKIP
>>> store = AlmaStore(primary_pool, read=route)                       # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langgraph_alma.db.plan import Batch, Plan, Rows, Sql, spliced

T = TypeVar("T")

# The id of the writing transaction (NULL if the batch wrote nothing).
WRITE_XID = Sql("SELECT pg_current_xact_id_if_assigned()::text", fetch=True)
# Are all these writes committed and visible here, and is "here" a replica?
VISIBLE = (
    "SELECT pg_is_in_recovery() AND coalesce(bool_and("
    "pg_visible_in_snapshot(x, pg_current_snapshot())), true) "
    "FROM unnest(%s::xid8[]) AS x"
)


class StaleReplica(Exception):  # noqa: N818 - a signal inside the library, never raised to users
    """The replica does not show this process's last writes yet: read on the primary."""


@dataclass
class ReadRoute:
    """A replica to send reads to, and the writes made through this route's writers that
    the replica has not been seen to show yet."""

    source: Any
    _pending: dict[str, None] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pending(self) -> list[str]:
        """Transaction ids of writes not yet seen on the replica."""
        with self._guard:
            return list(self._pending)

    def wrote(self, xid: str | None) -> None:
        """Record a committed write (its transaction id)."""
        if xid:
            with self._guard:
                self._pending[xid] = None

    def seen(self, xids: list[str]) -> None:
        """These writes are visible on the replica (it never goes back): stop checking."""
        with self._guard:
            for x in xids:
                self._pending.pop(x, None)


def tracking(plan: Plan[T], route: ReadRoute | None) -> Plan[T]:
    """`plan`, with the id of its writing transaction recorded in `route` after each batch."""
    if route is None:
        return plan

    def extra(batch: Batch) -> tuple[int, list[Sql]]:
        # Inside the batch's transaction: before its COMMIT when it sends one.
        return (len(batch) - 1 if batch and _is_commit(batch[-1]) else len(batch)), [WRITE_XID]

    def seen(results: list[Rows | None]) -> None:
        rows = results[0] or []
        route.wrote(rows[0][0] if rows else None)

    return spliced(plan, extra, seen)


def _is_commit(sql: Sql) -> bool:
    return isinstance(sql.query, str) and sql.query.strip().upper() == "COMMIT"


def guarded(plan: Plan[T], route: ReadRoute) -> Plan[T]:
    """`plan` for the replica: its first batch also asks whether the route's pending writes
    are visible there; if not, raises `StaleReplica` before the plan sees any row."""
    pending = route.pending
    try:
        batch = next(plan)
    except StopIteration as done:
        return done.value
    results = yield [Sql(VISIBLE, (pending,), fetch=True), *batch]
    if not results[0] or not results[0][0][0]:
        plan.close()
        raise StaleReplica(pending)
    route.seen(pending)
    results = results[1:]
    while True:
        try:
            batch = plan.send(results)
        except StopIteration as done:
            return done.value
        results = yield batch


__all__ = ["ReadRoute", "StaleReplica", "guarded", "tracking"]
