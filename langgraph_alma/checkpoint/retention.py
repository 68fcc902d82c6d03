"""Thread retention: the TTL of LangGraph's platform (`checkpointer.ttl` in langgraph.json)
for AlmaSaver, with its semantics.

- `strategy="delete"` removes an expired thread and all its data; `"keep_latest"` keeps the
  thread and its latest checkpoint (with what its delta chains need) and drops the rest.
- A thread expires `default_ttl` minutes after its last checkpoint write. A run may set its
  thread's own TTL with `configurable["thread_ttl"]` (minutes, or `"never"` to exempt it);
  it sticks to the thread until another run sets it again.
- `sweep_ttl()` handles up to `sweep_limit` expired threads, in transactions of at most
  `SWEEP_CHUNK` with a rest between them (`pace` times each one's duration, 4 by default:
  live threads keep their speed); the threads are
  locked with `SKIP LOCKED`, so sweepers in several processes never take the
  same thread and never wait for a thread being written (its writer holds its row).

Each checkpoint write of a saver with a TTL also upserts the thread's row in
`alma_threads`, in the same round trip, before the checkpoint itself (so a sweeper that
locked the row first finishes before the write goes on, and never deadlocks with it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from langgraph_alma.checkpoint import _sql
from langgraph_alma.db.plan import Plan, Sql, set_tenant, spliced
from langgraph_alma.errors import ConfigError

T = TypeVar("T")

STRATEGIES = ("delete", "keep_latest")
"""What a sweep does to an expired thread: remove it, or keep only its latest checkpoint."""
THREAD_TTL_KEY = "thread_ttl"
"""The `configurable` key of a run that sets its thread's TTL: minutes, or "never"."""
DEFAULT_SWEEP_LIMIT = 10_000  # LangGraph's platform default
DEFAULT_SWEEP_MINUTES = 5.0
SWEEP_CHUNK = 500  # threads per sweep transaction (short locks, paced between)

# The thread's row, upserted by each checkpoint write. A run that names a TTL pins it; a
# run that names none keeps a pinned TTL, else takes the default. Rewritten only when the
# expiry would move by more than 1% of the TTL (an index entry per write is the cost).
TOUCH = """
INSERT INTO alma_threads AS t (tenant_id, thread_id, last_write_at, ttl_minutes, pinned,
                               expires_at)
VALUES (%(tenant)s, %(thread)s, now(), %(ttl)s, %(pinned)s,
        now() + %(ttl)s * interval '1 minute')
ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
    last_write_at = now(),
    pinned = t.pinned OR excluded.pinned,
    ttl_minutes = CASE WHEN excluded.pinned OR NOT t.pinned
                       THEN excluded.ttl_minutes ELSE t.ttl_minutes END,
    expires_at = now() + (CASE WHEN excluded.pinned OR NOT t.pinned
                               THEN excluded.ttl_minutes ELSE t.ttl_minutes END)
                         * interval '1 minute'
WHERE excluded.pinned
   OR t.expires_at IS NULL AND t.ttl_minutes IS NOT NULL
   OR t.expires_at < now() + 0.99 * coalesce(t.ttl_minutes, 0) * interval '1 minute'
"""

SET_TTL = """
INSERT INTO alma_threads AS t (tenant_id, thread_id, ttl_minutes, pinned, expires_at)
VALUES (%(tenant)s, %(thread)s, %(ttl)s, true, now() + %(ttl)s * interval '1 minute')
ON CONFLICT (tenant_id, thread_id) DO UPDATE SET
    ttl_minutes = excluded.ttl_minutes, pinned = true,
    expires_at = t.last_write_at + excluded.ttl_minutes * interval '1 minute'
"""

# Expired threads, oldest expiry first; `tenant` NULL: every tenant (privileged savers).
_EXPIRED = """
SELECT tenant_id, thread_id, last_write_at, expires_at FROM alma_threads
WHERE expires_at <= coalesce(%(now)s, now())
  AND (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
ORDER BY expires_at
LIMIT %(limit)s
"""
EXPIRED = _EXPIRED
CLAIM = _EXPIRED + "FOR UPDATE SKIP LOCKED"

SWEPT = """
UPDATE alma_threads SET expires_at = NULL, swept_at = now()
WHERE tenant_id = %(tenant)s AND thread_id = ANY(%(threads)s)
"""

# Threads whose last write is older than a cutoff, from their checkpoints (any saver,
# with or without a TTL): for `alma prune --older-than`, an administrative scan.
INACTIVE = """
SELECT tenant_id, thread_id, max(created_at) AS last_write
FROM alma_checkpoints
WHERE (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
GROUP BY tenant_id, thread_id
HAVING max(created_at) < %(cutoff)s
ORDER BY last_write
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class ThreadTTL:
    """A saver's retention settings (`AlmaSaver(..., ttl={...})`), as LangGraph's
    `ThreadTTLConfig`: `strategy`, `default_ttl` (minutes, None: threads expire only when
    a run sets `thread_ttl`), `sweep_interval_minutes`, `sweep_limit`."""

    strategy: Literal["delete", "keep_latest"] = "delete"
    default_ttl: float | None = None
    sweep_interval_minutes: float = DEFAULT_SWEEP_MINUTES
    sweep_limit: int = DEFAULT_SWEEP_LIMIT

    @classmethod
    def parse(cls, ttl: ThreadTTL | Mapping[str, Any] | None) -> ThreadTTL | None:
        """Validate a TTL block (a dict as in langgraph.json); None stays None."""
        if ttl is None or isinstance(ttl, ThreadTTL):
            return ttl
        if not isinstance(ttl, Mapping):
            raise ConfigError(f"ttl must be a dict like langgraph.json's, got {ttl!r}")
        unknown = set(ttl) - {"strategy", "default_ttl", "sweep_interval_minutes", "sweep_limit"}
        if unknown:
            raise ConfigError(f"unknown ttl settings {sorted(unknown)}")
        strategy = ttl.get("strategy") or "delete"
        if strategy not in STRATEGIES:
            raise ConfigError(f"ttl strategy must be one of {STRATEGIES}, got {strategy!r}")
        default = ttl.get("default_ttl")
        if default is not None:
            default = minutes("default_ttl", default)
        interval = ttl.get("sweep_interval_minutes")
        limit = ttl.get("sweep_limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit <= 0):  # fmt: skip
            raise ConfigError(f"sweep_limit must be a positive integer, got {limit!r}")
        return cls(
            strategy=cast(Literal["delete", "keep_latest"], strategy),  # checked above
            default_ttl=default,
            sweep_interval_minutes=(
                minutes("sweep_interval_minutes", interval)
                if interval is not None
                else DEFAULT_SWEEP_MINUTES
            ),
            sweep_limit=limit or DEFAULT_SWEEP_LIMIT,
        )


def minutes(name: str, value: Any) -> float:
    """A positive, finite number of minutes, or a `ConfigError` naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number of minutes, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0 or value > 1e9:
        raise ConfigError(f"{name} must be a positive, finite number of minutes, got {value!r}")
    return value


def thread_ttl(ttl: ThreadTTL, configurable: Mapping[str, Any]) -> tuple[float | None, bool]:
    """(ttl in minutes or None for never, pinned) for a write with this `configurable`."""
    if THREAD_TTL_KEY not in configurable:
        return ttl.default_ttl, False
    value = configurable[THREAD_TTL_KEY]
    if value is None or value == "never":
        return None, True
    return minutes(f'configurable["{THREAD_TTL_KEY}"]', value), True


def touching(plan: Plan[T], tenant: str, thread: str, ttl: float | None, pinned: bool) -> Plan[T]:
    """`plan` (a checkpoint write) with the thread's row upserted first, in each batch."""
    params = {"tenant": tenant, "thread": thread, "ttl": ttl, "pinned": pinned}
    head = [set_tenant(tenant), Sql(TOUCH, params)]
    return spliced(plan, lambda batch: (0, head))


@dataclass(frozen=True)
class ExpiredThread:
    """A thread past its TTL (or idle past a cutoff)."""

    tenant_id: str
    thread_id: str
    last_write_at: datetime
    expires_at: datetime | None = None


def expired(
    tenant: str | None, limit: int, now: datetime | None = None
) -> Plan[list[ExpiredThread]]:
    """The expired threads (of `tenant`, or every tenant when None), oldest first."""
    params = {"tenant": tenant, "limit": limit, "now": now}
    head = [set_tenant(tenant)] if tenant else []
    results = yield [*head, Sql(EXPIRED, params, fetch=True)]
    return [ExpiredThread(*row) for row in results[-1] or []]


def inactive(tenant: str | None, cutoff: datetime, limit: int) -> Plan[list[ExpiredThread]]:
    """Threads whose newest checkpoint is older than `cutoff`, oldest first."""
    params = {"tenant": tenant, "cutoff": cutoff, "limit": limit}
    head = [set_tenant(tenant)] if tenant else []
    results = yield [*head, Sql(INACTIVE, params, fetch=True)]
    return [ExpiredThread(*row) for row in results[-1] or []]


def _by_tenant(rows: list[tuple[Any, ...]]) -> Iterator[tuple[str, list[str]]]:
    tenants: dict[str, list[str]] = {}
    for row in rows:
        tenants.setdefault(row[0], []).append(row[1])
    yield from tenants.items()


def sweep(
    core: Any, ttl: ThreadTTL, tenant: str | None, now: datetime | None, limit: int
) -> Plan[list[ExpiredThread]]:
    """One transaction of a sweep (run with `transaction=True`): claim up to `limit`
    expired threads nobody is writing, apply the strategy, return them."""
    params = {"tenant": tenant, "limit": limit, "now": now}
    head = [set_tenant(tenant)] if tenant else []
    if ttl.strategy == "keep_latest":
        head = [Sql(_sql.PRUNE_SNAPSHOT), *head]
    results = yield [*head, Sql(CLAIM, params, fetch=True)]
    rows = results[-1] or []
    for owner, threads in _by_tenant(rows):
        done = {"tenant": owner, "threads": threads}
        if ttl.strategy == "delete":
            core.memory.forget(owner, threads)  # (keep_latest forgets them itself)
            yield [set_tenant(owner), *(Sql(q, done) for q in _sql.DELETE_THREADS)]
        else:
            yield [set_tenant(owner)]
            yield from core.keep_latest(owner, threads)
            yield [Sql(SWEPT, done)]
    return [ExpiredThread(*row) for row in rows]


def delete_inactive(core: Any, threads: list[ExpiredThread]) -> Plan[int]:
    """Delete these threads (grouped by tenant) in one transaction; returns how many."""
    for owner, ids in _by_tenant([(t.tenant_id, t.thread_id) for t in threads]):
        core.memory.forget(owner, ids)
        done = {"tenant": owner, "threads": ids}
        yield [set_tenant(owner), *(Sql(q, done) for q in _sql.DELETE_THREADS)]
    return len(threads)


def set_ttl(tenant: str, thread: str, ttl: float | None) -> Plan[None]:
    """Pin one thread's TTL (None: exempt it) without writing a checkpoint."""
    yield [set_tenant(tenant), Sql(SET_TTL, {"tenant": tenant, "thread": thread, "ttl": ttl})]


__all__ = [
    "ExpiredThread",
    "STRATEGIES",
    "THREAD_TTL_KEY",
    "ThreadTTL",
    "expired",
    "inactive",
    "sweep",
    "thread_ttl",
    "touching",
]
