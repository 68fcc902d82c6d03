"""`Upkeep`: the maintenance half of `MemoryCore` as store plans: scanning every memory
page by page, `forget` (decay, audited), `get_stats` (counted), `record_feedback`. A part of
`MemoryCore`, on `CoreBase`'s `project_id`, `clock` and `policy`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langgraph.store.base import GetOp, Item, PutOp, SearchOp

from langgraph_alma.errors import ConfigError
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.base import CoreBase
from langgraph_alma.memory.decay import ForgetPolicy, Usage
from langgraph_alma.memory.learner import PAGE, tally_namespace
from langgraph_alma.memory.plan import OFF_LOOP, OFF_LOOP_ITEMS, CountOp, StorePlan
from langgraph_alma.memory.scoring import SLICE_FIELDS
from langgraph_alma.memory.types import (
    Memory,
    MemoryKind,
    Outcome,
)

AUDIT_PART = 1_000
"""Most removals one batch of a forget deletes and its audit record lists (a big forget
writes several records, `part` 0, 1, ...)."""


class Upkeep(CoreBase):
    """`forget`, `forget_audit`, `get_stats`, `record_feedback` (see the module)."""

    def _scan(
        self, agent: str | None, each_page: Callable[[list[Item]], StorePlan[None]]
    ) -> StorePlan[None]:
        """Every memory item of the project (of `agent`), page by page (exact at any
        size), each page handed to the plan `each_page` and then dropped: a caller keeps
        what it needs, not every item (ten thousand decoded items held at once would make
        each garbage collection walk them all, holding the event loop as long)."""
        kinds = [k for k in SLICE_FIELDS if k is not MemoryKind.USER_PREFERENCE or agent is None]
        filt = {"agent": agent} if agent else None
        offset, pending = 0, kinds
        while pending:
            found = yield [
                SearchOp(it.kind_prefix(self.project_id, k), filt, limit=PAGE, offset=offset)
                for k in pending
            ]
            yield from each_page([i for hits in found for i in hits])
            pending = [k for k, hits in zip(pending, found, strict=True) if len(hits) == PAGE]
            offset += PAGE

    def forget(
        self,
        agent: str | None = None,
        older_than_days: float = 90,
        below_confidence: float = 0.3,
    ) -> StorePlan[int]:
        """Remove what decayed or what the policy names; keep an audit record."""
        policy = ForgetPolicy(
            older_than_days=older_than_days,
            below_confidence=below_confidence,
            min_strength=self.policy.min_strength,
            half_lives=self.policy.half_lives,
        )
        now = self.clock()
        removed: list[tuple[Memory, str]] = []

        def judge(items: list[Item]) -> StorePlan[None]:
            memories = [it.from_item(i) for i in items]
            usages = yield [GetOp(it.usage_namespace(self.project_id), m.id) for m in memories]
            for memory, used in zip(memories, usages, strict=True):
                if (why := policy.reason(memory, it.usage_of(used), now)) is not None:
                    removed.append((memory, why))

        yield from self._scan(agent, judge)
        if not removed:
            return 0
        if len(removed) > OFF_LOOP_ITEMS:
            yield OFF_LOOP  # the audit of thousands: not on an event loop
        audit: dict[str, Any] = {
            "at": now.isoformat(),
            "agent": agent,
            "policy": {
                "older_than_days": older_than_days,
                "below_confidence": below_confidence,
                "min_strength": policy.min_strength,
            },
        }
        # One batch, and one audit record, per AUDIT_PART removals: a record of every
        # removal of a big forget outgrew the store's value limit (1 MiB), refusing the
        # forget, and one batch of 30,000 deletes held the event loop ~50 ms encoding its
        # statements. The facade runs the plan in one transaction (`store.atomic`): all
        # removed and audited, or nothing.
        parts = [removed[i : i + AUDIT_PART] for i in range(0, len(removed), AUDIT_PART)]
        if len(parts) > 1:
            audit["parts"] = len(parts)
        key, tallies = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", set()
        for n, part in enumerate(parts):
            ops = [PutOp(it.namespace(m), m.id, None) for m, _ in part]
            ops += [PutOp(it.usage_namespace(self.project_id), m.id, None) for m, _ in part]
            for m, _ in part:  # counts that counted a removed outcome go: the next learn recounts
                if isinstance(m, Outcome) and m.agent:
                    t_key = learning.tally_key(m.agent, m.task_type, it.normalise(m.strategy_used))
                    if t_key not in tallies:
                        tallies.add(t_key)
                        ops.append(PutOp(tally_namespace(self.project_id, m.agent), t_key, None))
            entries = [
                {
                    "id": m.id,
                    "kind": m.kind.value,
                    "agent": m.agent,
                    "text": m.search_text()[:200],
                    "reason": why,
                }
                for m, why in part
            ]
            record = {**audit, "removed": entries} | ({"part": n} if len(parts) > 1 else {})
            part_key = key if len(parts) == 1 else f"{key}-{n:04d}"
            ops.append(PutOp(it.audit_namespace(self.project_id), part_key, record, index=False))
            yield ops
        return len(removed)

    def forget_audit(self, limit: int = 20) -> StorePlan[list[dict[str, Any]]]:
        """The latest `limit` audit records, newest first (a big forget's parts in order)."""
        found = yield [SearchOp(it.audit_namespace(self.project_id), limit=limit)]
        return sorted(
            (i.value for i in found[0]), key=lambda v: (v["at"], -v.get("part", 0)), reverse=True
        )

    def get_stats(self, agent: str | None = None) -> StorePlan[dict[str, Any]]:
        """Memories per kind: one count each (`CountOp`: a count statement on an
        `AlmaStore`), none of them read."""
        kinds = [k for k in SLICE_FIELDS if k is not MemoryKind.USER_PREFERENCE or agent is None]
        if agent is None:
            wanted = [CountOp(it.kind_prefix(self.project_id, k)) for k in kinds]
        else:  # the agent's namespace (an index range), and its memories only
            wanted = [
                CountOp((*it.kind_prefix(self.project_id, k), it.label(agent)), {"agent": agent})
                for k in kinds
            ]
        found = yield wanted
        counts = {k.value: 0 for k in SLICE_FIELDS}
        counts.update((k.value, n) for k, n in zip(kinds, found, strict=True))
        return {
            "project_id": self.project_id,
            "agent": agent,
            "counts": counts,
            "total": sum(counts.values()),
        }

    def record_feedback(self, memory_id: str, signal: str | float) -> StorePlan[Usage]:
        """Reinforce (helpful, +1) or weaken (unhelpful, -1) a memory."""
        delta = (
            {"helpful": 1.0, "positive": 1.0, "unhelpful": -1.0, "negative": -1.0}.get(
                signal, signal
            )
            if isinstance(signal, str)
            else float(signal)
        )
        if isinstance(delta, str):
            raise ConfigError(
                f"feedback signal must be helpful/unhelpful or a number, got {signal!r}"
            )
        (used,) = yield [GetOp(it.usage_namespace(self.project_id), memory_id)]
        usage = it.usage_of(used)
        new = Usage(usage.use_count, usage.last_used_at, max(-1.0, usage.reinforcement + delta))
        yield [it.usage_put(self.project_id, memory_id, new)]
        return new
