"""`Learner`: the learning half of `MemoryCore` as store plans: `learn` records an
outcome and updates the running counts, the heuristic and the anti-pattern it supports
(`memory.learning` holds the pure rules). A part of `MemoryCore`, on `CoreBase`'s
`project_id`, `clock`, `scope_of`, `check_learning` and `stamp`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.store.base import GetOp, PutOp, SearchOp

from langgraph_alma.errors import ConfigError
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.base import CoreBase
from langgraph_alma.memory.plan import CountOp, StorePlan
from langgraph_alma.memory.reports import anti_pattern_warning
from langgraph_alma.memory.types import (
    AntiPattern,
    Heuristic,
    MemoryKind,
    Outcome,
)

PAGE = 500
"""Items one page of a scan reads; scans page to the end, so counts are exact at any size."""
MAX_STRATEGIES = 1_000
"""Most strategies of one agent and task type weighed for an anti-pattern's alternative."""


def tally_namespace(project_id: str, agent: str) -> tuple[str, ...]:
    """Where `agent`'s running counts (one item per task type and strategy) live."""
    return (it.ROOT, it.label(project_id), learning.TALLY, it.label(agent))


class Learner(CoreBase):
    """`learn`, `remember`'s counting and their plans (see the module)."""

    def learn(
        self,
        agent: str,
        task: str,
        outcome: str | bool,
        strategy_used: str,
        task_type: str | None = None,
        duration_ms: int | None = None,
        error_message: str | None = None,
        feedback: str | None = None,
        context: Any = None,
    ) -> StorePlan[Outcome]:
        if isinstance(outcome, str):
            if outcome not in ("success", "failure"):
                raise ConfigError(f"outcome must be 'success' or 'failure', got {outcome!r}")
            success = outcome == "success"
        else:
            success = bool(outcome)
        if not strategy_used or not strategy_used.strip():
            raise ConfigError("strategy_used must not be empty")
        task_type = task_type or "general"
        self.check_learning(agent, task_type)
        ctx = context if isinstance(context, Mapping) else {}
        record = Outcome(
            task_type=task_type,
            task_description=task,
            success=success,
            strategy_used=strategy_used,
            duration_ms=duration_ms,
            error_message=error_message,
            user_feedback=feedback,
            context={k: v for k, v in ctx.items() if k != "configurable"},
        )
        self.stamp(record, agent, context, self.project_id)
        yield [it.put_op(record)]
        yield from self._update_heuristic(agent, [record])
        return record

    def _recount(
        self, agent: str, task_type: str, strategy_key: str, strategy: str
    ) -> StorePlan[learning.Tally]:
        """Count every stored outcome of one strategy (two counts in the database, exact
        at any size, no outcome read) and take the newest failure's error: the repair
        when its running counts are missing (data older than them, a forget)."""
        prefix = (*it.kind_prefix(self.project_id, MemoryKind.OUTCOME), it.label(agent))
        filt = {"agent": agent, "task_type": task_type, "strategy_key": strategy_key}
        stored, wins = yield [CountOp(prefix, filt), CountOp(prefix, {**filt, "success": True})]
        failed = {**filt, "success": False, "error_message": {"$ne": None}}
        (last,) = yield [SearchOp(prefix, failed, limit=1)]  # newest first
        error = last[0].value.get("error_message") if last else None
        return learning.Tally(task_type, strategy, strategy_key, stored, wins, error)

    def _update_heuristic(self, agent: str, records: list[Outcome]) -> StorePlan[None]:
        """Add `records` (already written; one task type and strategy) to their running
        counts and create or update the one heuristic (and anti-pattern) they support.
        O(1) in past outcomes: the counts are one item, updated in the learn's
        transaction and recounted only when missing."""
        record = records[-1]
        project, task_type = self.project_id, record.task_type
        strategy_key = it.normalise(record.strategy_used)
        condition = learning.condition_for(task_type)
        h_key = learning.heuristic_key(agent, condition, strategy_key)
        a_key = learning.anti_pattern_key(agent, task_type, strategy_key)
        t_key = learning.tally_key(agent, task_type, strategy_key)
        owner = it.label(agent)
        h_ns = (it.ROOT, it.label(project), MemoryKind.HEURISTIC.value, owner)
        a_ns = (it.ROOT, it.label(project), MemoryKind.ANTI_PATTERN.value, owner)
        t_ns = tally_namespace(project, agent)
        counted, heuristic, anti = yield [
            GetOp(t_ns, t_key),
            GetOp(h_ns, h_key),
            GetOp(a_ns, a_key),
        ]
        if counted is None:  # repair: the written records are among those counted
            tally = yield from self._recount(agent, task_type, strategy_key, record.strategy_used)
        else:
            tally = learning.Tally.from_value(counted.value).add(records)
        writes: list[PutOp] = [
            PutOp(t_ns, t_key, {**tally.to_value(), "agent": agent}, index=False)
        ]
        n, wins, failures = tally.occurrences, tally.successes, tally.failures
        now = self.clock()
        if n >= self.scope_of(agent).min_occurrences_for_heuristic:
            h = (
                it.from_item_as(heuristic, Heuristic)
                if heuristic
                else Heuristic(
                    id=h_key,
                    condition=condition,
                    strategy=record.strategy_used,
                    task_type=task_type,
                )
            )
            if not heuristic:
                self.stamp(h, agent, None, project)
            h.occurrence_count, h.success_count = n, wins
            h.confidence = learning.heuristic_confidence(wins, n)
            h.last_validated = now
            writes.append(it.put_op(h))
        if failures >= learning.ANTI_PATTERN_MIN_FAILURES and wins < failures:
            a = (
                it.from_item_as(anti, AntiPattern)
                if anti
                else AntiPattern(
                    id=a_key, pattern=record.strategy_used, why_bad="", task_type=task_type
                )
            )
            if not anti:
                self.stamp(a, agent, None, project)
            a.why_bad = f"failed {failures} of {n} times on {task_type} tasks" + (
                f"; last error: {tally.last_error}" if tally.last_error else ""
            )
            # The agent's other strategies on this task type, from their counts: as many
            # items as strategies, not outcomes.
            (others,) = yield [SearchOp(t_ns, {"task_type": task_type}, limit=MAX_STRATEGIES)]
            a.better_alternative = learning.best_alternative_of(
                (learning.Tally.from_value(i.value) for i in others), strategy_key
            )
            a.occurrence_count, a.last_seen = failures, now
            writes.append(it.put_op(a))
            if not record.success:
                anti_pattern_warning(
                    f"strategy {record.strategy_used!r} for {task_type} tasks is a known "
                    f"anti-pattern ({a.why_bad})",
                    agent=agent,
                    task_type=task_type,
                    strategy=record.strategy_used,
                    failures=failures,
                    occurrences=n,
                )
        yield writes

    def count_outcomes(self, agent: str, outcomes: list[Outcome]) -> StorePlan[None]:
        """Learn from `outcomes` of `agent`, already written in this transaction: their
        running counts, heuristics and anti-patterns (each strategy counted once)."""
        groups: dict[tuple[str, str], list[Outcome]] = {}
        for o in outcomes:
            groups.setdefault((o.task_type, it.normalise(o.strategy_used)), []).append(o)
        for group in groups.values():
            yield from self._update_heuristic(agent, group)
