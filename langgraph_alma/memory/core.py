"""`MemoryCore`: the ALMA memory API as store plans (retrieve, learn, preferences,
knowledge, forget, stats, feedback). `Alma` and `AsyncAlma` drive these plans."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.store.base import GetOp, Item, PutOp, SearchOp

from langgraph_alma.db.tenancy import run_tenant
from langgraph_alma.errors import ConfigError, PrivilegeRequired
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.decay import ForgetPolicy, Usage
from langgraph_alma.memory.plan import OFF_LOOP, OFF_LOOP_ITEMS, StorePlan
from langgraph_alma.memory.scope import MemoryScope, RetrievalScope, readable_agents
from langgraph_alma.memory.scoring import SLICE_FIELDS, MemorySlice, ScoringWeights, score
from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
    utcnow,
)

PAGE = 500
"""Items one page of a scan reads; scans page to the end, so counts are exact at any size."""
MAX_STRATEGIES = 1_000
"""Most strategies of one agent and task type weighed for an anti-pattern's alternative."""
Clock = Callable[[], datetime]


class AntiPatternWarning(UserWarning):
    """A learned outcome repeats a known failure; the outcome was still recorded."""


def _package_dirs(module: str) -> list[str]:
    spec = importlib.util.find_spec(module)
    found = list(spec.submodule_search_locations or []) if spec else []  # namespace too
    return [str(Path(d).resolve()) + os.sep for d in found]


# Frames a warning skips to reach the user's line: ours, and LangGraph's runner when a
# prebuilt node learned inside the user's graph.invoke.
_LIBRARY_DIRS = tuple(
    d for m in ("langgraph_alma", "langgraph", "langchain_core") for d in _package_dirs(m)
)
_anti_pattern_log: ContextVar[logging.Logger | None] = ContextVar(
    "alma_anti_pattern_log", default=None
)


@contextlib.contextmanager
def anti_patterns_logged(logger: logging.Logger) -> Iterator[None]:
    """Within this block (and the tasks and threads it starts), an anti-pattern is one
    WARNING record on `logger` instead of an `AntiPatternWarning`: for servers, where a
    warning per call would print two lines and grow Python's warning registry forever.

    >>> with anti_patterns_logged(logging.getLogger("alma.mcp")):    # doctest: +SKIP
    ...     await serve()
    """
    token = _anti_pattern_log.set(logger)
    try:
        yield
    finally:
        _anti_pattern_log.reset(token)


def anti_pattern_warning(message: str, **fields: Any) -> None:
    """Report an anti-pattern: a log record inside `anti_patterns_logged`, else an
    `AntiPatternWarning` pointing at the caller's own line (the first frame outside
    langgraph_alma)."""
    logger = _anti_pattern_log.get()
    if logger is not None:
        logger.warning("alma anti-pattern %s", json.dumps({"message": message, **fields}))
        return
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, AntiPatternWarning, stacklevel=level)


def _context_value(context: Any, name: str) -> Any:
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(name) or (context.get("configurable") or {}).get(name)
    return getattr(context, name, None)


class MemoryCore:
    """The memory logic, free of I/O: every method returns a store plan."""

    def __init__(
        self,
        *,
        tenant_id: str | None,
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        weights: ScoringWeights | None = None,
        policy: ForgetPolicy | None = None,
        privileged: bool = False,
        clock: Clock | None = None,
        category_check: Callable[[str, str], None] | None = None,
        default_scope: Callable[[str], MemoryScope] | None = None,
        default_tenant: str = "default",
    ) -> None:
        self.bound_tenant, self.default_tenant = tenant_id, default_tenant
        self.project_id = project_id
        self.scopes: dict[str, MemoryScope] = dict(scopes or {})
        self.weights = weights or ScoringWeights()
        self.policy = policy or ForgetPolicy()
        self.privileged = privileged
        self.clock: Clock = clock or utcnow
        self.category_check = category_check  # a domain schema's own limits, if any
        self.default_scope = default_scope or (lambda agent: MemoryScope(agent_name=agent))

    @property
    def tenant_id(self) -> str:
        """The tenant of this call, read where the store reads it: the bound one, else
        the graph run's `configurable["tenant_id"]`, else the default."""
        return run_tenant(self.bound_tenant, self.default_tenant)

    # -- scope -----------------------------------------------------------------------
    def scope_of(self, agent: str) -> MemoryScope:
        return self.scopes.get(agent) or self.default_scope(agent)

    def require_privilege(self) -> None:
        """Raise `PrivilegeRequired` unless the store may read every tenant."""
        if not self.privileged:
            raise PrivilegeRequired(
                "RetrievalScope.GLOBAL reads every tenant: use a privileged store"
            )

    def check_learning(self, agent: str, category: str) -> None:
        """Raise `ScopeViolation` unless `agent` may learn `category`."""
        self.scope_of(agent).check(category)
        if self.category_check is not None:
            self.category_check(agent, category)

    def stamp(self, memory: Memory, agent: str | None, context: Any, project: str) -> Memory:
        """`memory` stamped before a write: this core's tenant, `project`, `agent`, the
        clock's time, and the workflow, run and node ids `context` names."""
        now = self.clock()
        memory.tenant_id, memory.project_id, memory.agent = self.tenant_id, project, agent
        memory.created_at = memory.last_used_at = now
        for name in ("workflow_id", "run_id", "node_id"):
            if (value := _context_value(context, name)) is not None:
                setattr(memory, name, str(value))
        return memory

    _stamp = stamp  # the name this module's own plans call it by

    # -- retrieval -------------------------------------------------------------------
    def _searches(
        self,
        kind: MemoryKind,
        project: str,
        agent: str,
        user_id: str | None,
        scope: RetrievalScope,
        context: Any,
    ) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """(namespace prefix, filter) of each search one kind needs under `scope`. Agents
        are namespace labels, so an agent's memories are an index range: one search per
        readable agent, never a filter over the whole kind."""
        if kind is MemoryKind.USER_PREFERENCE:
            prefix = (*it.kind_prefix(project, kind), it.label(user_id)) if user_id else None
            return [(prefix, {})] if prefix else []
        if scope in (RetrievalScope.TENANT, RetrievalScope.GLOBAL):
            return [(it.kind_prefix(None, kind), {"kind": kind.value})]
        filt: dict[str, Any] = {}
        needed = {
            RetrievalScope.NODE: ("workflow_id", "run_id", "node_id"),
            RetrievalScope.RUN: ("workflow_id", "run_id"),
            RetrievalScope.WORKFLOW: ("workflow_id",),
        }.get(scope, ())
        for name in needed:
            value = _context_value(context, name)
            if value is None:
                raise ConfigError(f"retrieval scope {scope.value!r} needs {name} in the context")
            filt[name] = str(value)
        return [
            ((*it.kind_prefix(project, kind), it.label(a)), filt)
            for a in readable_agents(agent, self.scopes)
        ]

    def retrieve(
        self,
        task: str,
        agent: str,
        project_id: str | None = None,
        user_id: str | None = None,
        top_k: int = 5,
        context: Any = None,
        scope: RetrievalScope | str = RetrievalScope.AGENT,
        include_workflow_outcomes: bool = False,
        record_use: bool = True,
        rerank: Callable[[MemorySlice], MemorySlice] | None = None,
    ) -> StorePlan[MemorySlice]:
        """The scored slice for `task`; with `record_use`, each memory returned counts a
        use (reinforcement and decay read it). Without, nothing is written: the plan runs
        in a read-only transaction (a replica). `rerank` re-orders the slice of every
        candidate (each kind's `top_k * 3` best, sorted) before each kind is cut to
        `top_k` (the confidence engine's ranking of heuristics, from the facade)."""
        started = time.perf_counter()
        scope = RetrievalScope(scope)
        if scope is RetrievalScope.GLOBAL:
            self.require_privilege()
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        project = project_id or self.project_id
        kinds = [
            MemoryKind.HEURISTIC,
            MemoryKind.OUTCOME,
            MemoryKind.USER_PREFERENCE,
            MemoryKind.DOMAIN_KNOWLEDGE,
            MemoryKind.ANTI_PATTERN,
        ]
        if include_workflow_outcomes:
            kinds.append(MemoryKind.WORKFLOW_OUTCOME)
        searches: list[tuple[MemoryKind, SearchOp]] = [
            (
                kind,
                SearchOp(
                    prefix, filt or None, limit=top_k * 3, query=task or None, refresh_ttl=False
                ),
            )  # memories carry no TTL: nothing to refresh
            for kind in kinds
            for prefix, filt in self._searches(kind, project, agent, user_id, scope, context)
        ]
        found = yield [op for _, op in searches]
        hits_by_kind: dict[MemoryKind, list[Item]] = {}
        for (kind, _), hits in zip(searches, found, strict=True):
            hits_by_kind.setdefault(kind, []).extend(hits)
        candidates: list[tuple[Memory, float, Item]] = []
        for hits in hits_by_kind.values():
            best = max((h.score or 0.0 for h in hits), default=0.0) or 1.0
            for hit in hits:
                candidates.append((it.from_item(hit), (hit.score or 0.0) / best, hit))
        usages = yield [
            GetOp(it.usage_namespace(project), m.id, refresh_ttl=False) for m, _, _ in candidates
        ]
        now = self.clock()
        chosen: dict[MemoryKind, list[tuple[float, Memory, Usage]]] = {}
        for (memory, similarity, _), used in zip(candidates, usages, strict=True):
            usage = it.usage_of(used)
            value = score(memory, similarity, usage, now, self.weights)
            chosen.setdefault(memory.kind, []).append((value, memory, usage))
        result = MemorySlice(query=task, agent=agent)
        usage_of: dict[str, Usage] = {}
        for kind, scored in chosen.items():
            scored.sort(key=lambda s: -s[0])
            for value, memory, usage in scored:
                memory.metadata = {**memory.metadata, "score": value}
                result.scores[memory.id] = value
                getattr(result, SLICE_FIELDS[kind]).append(memory)
                usage_of[memory.id] = usage
        if rerank is not None:
            result = rerank(result)
        kept: dict[str, float] = {}
        for name in SLICE_FIELDS.values():
            top = getattr(result, name)[:top_k]
            setattr(result, name, top)
            kept.update((m.id, result.scores[m.id]) for m in top)
        result.scores = kept
        reinforce: list[PutOp] = [
            it.usage_put(project, mid, Usage(u.use_count + 1, now, u.reinforcement))
            for mid in kept
            if (u := usage_of.get(mid)) is not None
        ]
        if reinforce and record_use:
            yield reinforce  # retrieval strengthens what it returns
        result.retrieval_time_ms = (time.perf_counter() - started) * 1000
        return result

    # -- learning --------------------------------------------------------------------
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
        self._stamp(record, agent, context, self.project_id)
        yield [it.put_op(record)]
        yield from self._consolidate(agent, [record])
        return record

    def _tally_namespace(self, agent: str) -> tuple[str, ...]:
        return (it.ROOT, it.label(self.project_id), learning.TALLY, it.label(agent))

    def _recount(
        self, agent: str, task_type: str, strategy_key: str, strategy: str
    ) -> StorePlan[learning.Tally]:
        """Count every stored outcome of one strategy, page by page (exact at any size):
        the repair when its running counts are missing (data older than them, a forget)."""
        tally = learning.Tally(task_type, strategy, strategy_key)
        prefix = (*it.kind_prefix(self.project_id, MemoryKind.OUTCOME), it.label(agent))
        filt = {"agent": agent, "task_type": task_type, "strategy_key": strategy_key}
        offset = 0
        while True:
            (page,) = yield [SearchOp(prefix, filt, limit=PAGE, offset=offset)]
            tally = tally.add(it.from_item(i) for i in page)  # type: ignore[misc]
            if len(page) < PAGE:
                return tally
            offset += PAGE

    def _consolidate(self, agent: str, records: list[Outcome]) -> StorePlan[None]:
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
        t_ns = self._tally_namespace(agent)
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
                it.from_item(heuristic)
                if heuristic
                else Heuristic(
                    id=h_key,
                    condition=condition,
                    strategy=record.strategy_used,
                    task_type=task_type,
                )
            )
            if not heuristic:
                self._stamp(h, agent, None, project)
            h.occurrence_count, h.success_count = n, wins
            h.confidence = learning.heuristic_confidence(wins, n)
            h.last_validated = now
            writes.append(it.put_op(h))
        if failures >= learning.ANTI_PATTERN_MIN_FAILURES and wins < failures:
            a = (
                it.from_item(anti)
                if anti
                else AntiPattern(
                    id=a_key, pattern=record.strategy_used, why_bad="", task_type=task_type
                )
            )
            if not anti:
                self._stamp(a, agent, None, project)
            a.why_bad = f"failed {failures} of {n} times on {task_type} tasks" + (
                f"; last error: {tally.last_error}" if tally.last_error else ""
            )
            # The agent's other strategies on this task type, from their counts: as many
            # items as strategies, not outcomes.
            (others,) = yield [SearchOp(t_ns, {"task_type": task_type}, limit=MAX_STRATEGIES)]
            a.better_alternative = learning.best_alternative_of(
                (learning.Tally.from_value(i.value) for i in others), strategy_key
            )  # type: ignore[misc]
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

    def add_user_preference(
        self, user_id: str, category: str, preference: str, source: str = "explicit_instruction"
    ) -> StorePlan[UserPreference]:
        if not user_id or not preference.strip():
            raise ConfigError("user_id and preference must not be empty")
        pref = UserPreference(
            id=learning.stable_key("p", user_id, category, preference),
            user_id=user_id,
            category=category,
            preference=preference,
            source=source,
        )
        self._stamp(pref, None, None, self.project_id)
        yield [it.put_op(pref)]
        return pref

    def add_domain_knowledge(
        self, agent: str, domain: str, fact: str, source: str = "user_stated"
    ) -> StorePlan[DomainKnowledge]:
        if not fact.strip():
            raise ConfigError("fact must not be empty")
        self.check_learning(agent, domain)
        knowledge = DomainKnowledge(
            id=learning.stable_key("k", agent, domain, fact),
            domain=domain,
            fact=fact,
            source=source,
        )
        self._stamp(knowledge, agent, None, self.project_id)
        yield [it.put_op(knowledge)]
        return knowledge

    def remember(self, memories: list[Memory], agent: str) -> StorePlan[list[Memory]]:
        """Store extracted memories for `agent`: every one is checked against the scope
        first, then all are written in one batch (all or nothing), then outcomes feed
        heuristic and anti-pattern learning."""
        for m in memories:
            category = getattr(m, "domain", None) or getattr(m, "task_type", None) or "general"
            if not isinstance(m, UserPreference):
                self.check_learning(agent, category)
        for m in memories:
            owner = None if isinstance(m, UserPreference) else agent
            self._stamp(m, owner, None, self.project_id)
            if isinstance(m, UserPreference):
                m.id = learning.stable_key("p", m.user_id, m.category, m.preference)
            elif isinstance(m, DomainKnowledge):
                m.id = learning.stable_key("k", agent, m.domain, m.fact)
        if memories:
            yield [it.put_op(m) for m in memories]
        yield from self.count_outcomes(agent, [m for m in memories if isinstance(m, Outcome)])
        return memories

    def count_outcomes(self, agent: str, outcomes: list[Outcome]) -> StorePlan[None]:
        """Learn from `outcomes` of `agent`, already written in this transaction: their
        running counts, heuristics and anti-patterns (each strategy counted once)."""
        groups: dict[tuple[str, str], list[Outcome]] = {}
        for o in outcomes:
            groups.setdefault((o.task_type, it.normalise(o.strategy_used)), []).append(o)
        for group in groups.values():
            yield from self._consolidate(agent, group)

    # -- forgetting, stats, feedback -------------------------------------------------
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
        audit = {
            "at": now.isoformat(),
            "agent": agent,
            "policy": {
                "older_than_days": older_than_days,
                "below_confidence": below_confidence,
                "min_strength": policy.min_strength,
            },
            "removed": [
                {
                    "id": m.id,
                    "kind": m.kind.value,
                    "agent": m.agent,
                    "text": m.search_text()[:200],
                    "reason": why,
                }
                for m, why in removed
            ],
        }
        ops = [PutOp(it.namespace(m), m.id, None) for m, _ in removed]
        # Running counts that counted a removed outcome go too: the next learn recounts.
        ops += list(
            {
                (m.agent, m.task_type, it.normalise(m.strategy_used)): PutOp(
                    self._tally_namespace(m.agent),
                    learning.tally_key(m.agent, m.task_type, it.normalise(m.strategy_used)),
                    None,
                )
                for m, _ in removed
                if isinstance(m, Outcome) and m.agent
            }.values()
        )
        ops += [PutOp(it.usage_namespace(self.project_id), m.id, None) for m, _ in removed]
        ops.append(
            PutOp(
                it.audit_namespace(self.project_id),
                f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
                audit,
                index=False,
            )
        )
        yield ops  # one batch: all removed and audited, or nothing
        return len(removed)

    def forget_audit(self, limit: int = 20) -> StorePlan[list[dict[str, Any]]]:
        found = yield [SearchOp(it.audit_namespace(self.project_id), limit=limit)]
        return sorted((i.value for i in found[0]), key=lambda v: v["at"], reverse=True)

    def get_stats(self, agent: str | None = None) -> StorePlan[dict[str, Any]]:
        counts = {k.value: 0 for k in SLICE_FIELDS}

        def count(items: list[Item]) -> StorePlan[None]:
            for item in items:  # counted, not converted
                counts[item.value["kind"]] += 1
            yield from ()  # no statements of its own

        yield from self._scan(agent, count)
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
