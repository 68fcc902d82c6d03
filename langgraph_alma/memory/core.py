"""`MemoryCore`: the ALMA memory API as store plans (retrieve, learn, preferences,
knowledge, forget, stats, feedback). `Alma` and `AsyncAlma` drive these plans."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.store.base import GetOp, PutOp, SearchItem, SearchOp

from langgraph_alma.errors import ConfigError
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.base import context_value
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.learner import MAX_STRATEGIES, PAGE, Learner
from langgraph_alma.memory.plan import StorePlan
from langgraph_alma.memory.reports import (
    AntiPatternWarning,
    anti_pattern_warning,
    anti_patterns_logged,
)
from langgraph_alma.memory.scope import RetrievalScope, readable_agents
from langgraph_alma.memory.scoring import SLICE_FIELDS, MemorySlice, score
from langgraph_alma.memory.types import (
    DomainKnowledge,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
)
from langgraph_alma.memory.upkeep import Upkeep

__all__ = [
    "MAX_STRATEGIES",
    "PAGE",
    "AntiPatternWarning",
    "MemoryCore",
    "anti_pattern_warning",
    "anti_patterns_logged",
]


class MemoryCore(Learner, Upkeep):
    """The memory logic, free of I/O: every method returns a store plan. Made with
    `CoreBase`'s keywords (tenant, project, scopes, weights, policy, clock...)."""

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
            value = context_value(context, name)
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
        hits_by_kind: dict[MemoryKind, list[SearchItem]] = {}
        for (kind, _), hits in zip(searches, found, strict=True):
            hits_by_kind.setdefault(kind, []).extend(hits)
        candidates: list[tuple[Memory, float, SearchItem]] = []
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
        self.stamp(pref, None, None, self.project_id)
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
        self.stamp(knowledge, agent, None, self.project_id)
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
            self.stamp(m, owner, None, self.project_id)
            if isinstance(m, UserPreference):
                m.id = learning.stable_key("p", m.user_id, m.category, m.preference)
            elif isinstance(m, DomainKnowledge):
                m.id = learning.stable_key("k", agent, m.domain, m.fact)
        if memories:
            yield [it.put_op(m) for m in memories]
        yield from self.count_outcomes(agent, [m for m in memories if isinstance(m, Outcome)])
        return memories
