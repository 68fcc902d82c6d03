"""The logic of AlmaSaver, written once as statement plans (see `langgraph_alma.db.plan`).

`SaverCore` turns each checkpoint operation into a plan and rows back into LangGraph
objects; the sync and async savers only choose a connection and drive the plan. It is
put together from parts: the shared state in `_state` (`CoreState`), reads in `_reads`
(`Reads`), writes in `_writes` (`Writes`), input checks in `_inputs`; the thread-wide
operations (listing, deleting, copying, pruning) are here.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._inputs import PRUNE_STRATEGIES, check_limit, task_node
from langgraph_alma.checkpoint._reads import Reads
from langgraph_alma.checkpoint._writes import Writes
from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.errors import ConfigError

__all__ = [
    "PRUNE_STRATEGIES",
    "SaverCore",
    "ThreadSummary",
    "check_limit",
    "kept_checkpoints",
    "task_node",
]


@dataclass(frozen=True)
class ThreadSummary:
    """One thread of a tenant, as `AlmaSaver.list_threads()` reports it."""

    thread_id: str
    checkpoints: int
    last_step: int | None
    updated_at: datetime
    project_id: str
    agent: str | None
    workflow_id: str | None


class SaverCore(Reads, Writes):
    """Plans for every checkpoint operation, and the conversions they need."""

    def threads(
        self,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        limit: int | None = None,
    ) -> Plan[builtins.list[ThreadSummary]]:
        """The tenant's threads, most recently updated first (`limit`: at most that many)."""
        return self._threads(agent, workflow_id, check_limit(limit))

    def _threads(
        self, agent: str | None, workflow_id: str | None, limit: int | None
    ) -> Plan[builtins.list[ThreadSummary]]:
        tenant = self.tenant()
        params = {"tenant": tenant, "agent": agent, "workflow": workflow_id, "limit": limit}
        results = yield [set_tenant(tenant), Sql(_sql.THREADS, params, fetch=True)]
        return [ThreadSummary(*row) for row in results[1] or []]

    def delete_threads(self, thread_ids: Sequence[str]) -> Plan[None]:
        tenant = self.tenant()
        params = {"tenant": tenant, "threads": [str(t) for t in thread_ids]}
        self.memory.forget(tenant, params["threads"])
        yield [set_tenant(tenant), *(Sql(q, params) for q in _sql.DELETE_THREADS)]

    def delete_for_runs(self, run_ids: Sequence[str]) -> Plan[None]:
        if not run_ids:
            return
        tenant = self.tenant()
        yield [
            set_tenant(tenant),
            Sql(_sql.DELETE_FOR_RUNS, {"tenant": tenant, "runs": [str(r) for r in run_ids]}),
        ]

    def copy_thread(self, source: str, target: str) -> Plan[None]:
        tenant = self.tenant()
        params = {"tenant": tenant, "source": str(source), "target": str(target)}
        yield [set_tenant(tenant), *(Sql(q, params) for q in _sql.COPY_THREAD)]

    def prune(self, thread_ids: Sequence[str], strategy: str) -> Plan[None]:
        """One thread's prune, on one snapshot (run in a transaction)."""
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread ids, not a str")
        if strategy not in PRUNE_STRATEGIES:
            raise ConfigError(f"unknown prune strategy {strategy!r}; use one of {PRUNE_STRATEGIES}")
        tenant = self.tenant()
        threads = [str(t) for t in thread_ids]
        if not threads:
            return
        if strategy == "delete":  # each branch forgets what this process remembered
            yield from self.delete_threads(threads)
            return
        yield [Sql(_sql.PRUNE_SNAPSHOT), set_tenant(tenant)]
        yield from self.keep_latest(tenant, threads)

    def keep_latest(self, tenant: str, threads: Sequence[str]) -> Plan[None]:
        """`prune(..., "keep_latest")`'s work inside a transaction that has already set
        the tenant and a repeatable-read snapshot (the TTL sweep runs it too)."""
        self.memory.forget(tenant, list(threads))
        for thread in threads:
            params: dict[str, Any] = {"tenant": tenant, "thread": thread}
            results = yield [Sql(_sql.PRUNE_CHAIN, params, fetch=True)]
            kept = kept_checkpoints(results[0] or [])
            params["kept_ns"] = [ns for ns, _ in kept]
            params["kept_id"] = [cid for _, cid in kept]
            yield [
                Sql(_sql.PRUNE_WRITES, params),
                Sql(_sql.PRUNE_CHECKPOINTS, params),
                Sql(_sql.PRUNE_BLOBS, params),
            ]


def kept_checkpoints(chain: Iterable[tuple[Any, ...]]) -> list[tuple[str, str]]:
    """What `keep_latest` keeps: the latest checkpoint of each namespace and, when the
    thread uses a DeltaChannel, every ancestor back to the one that stores each channel
    the latest one does not (the seed the channel is rebuilt from)."""
    by_ns: dict[str, list[tuple[Any, ...]]] = {}
    for row in chain:
        by_ns.setdefault(row[0], []).append(row)  # rows come newest first per namespace
    kept: list[tuple[str, str]] = []
    for ns, rows in by_ns.items():
        head = rows[0]
        kept.append((ns, head[1]))
        needed = set(head[4]) - set(head[3])  # delta channels the head must rebuild
        if not needed:
            continue
        parent_of = {r[1]: r[2] for r in rows}
        stored = {r[1]: set(r[3]) for r in rows}
        cursor = head[2]
        while cursor is not None and cursor in parent_of and needed:
            kept.append((ns, cursor))
            needed -= stored[cursor]
            cursor = parent_of[cursor]
    return kept
