"""What `Alma` and `AsyncAlma` share: the memory core built from their arguments, the
graph memory on the store's connections, and merging per-tenant slices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.confidence.ranking import rank_heuristics
from langgraph_alma.config import get_settings
from langgraph_alma.domains.schema import DomainSchema
from langgraph_alma.extraction import Extractor
from langgraph_alma.graph import AsyncGraphMemory, GraphMemory
from langgraph_alma.memory.base import Clock
from langgraph_alma.memory.core import MemoryCore
from langgraph_alma.memory.decay import ForgetPolicy
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.memory.scoring import SLICE_FIELDS, MemorySlice, ScoringWeights
from langgraph_alma.store import AlmaStore, AsyncAlmaStore

MEMORY_EXACT_SEARCH_MAX = 10_000
"""One agent's memories of one kind are a namespace; ranking up to this many of them
exactly (a few ms) beats walking the HNSW index filtered to a small slice of it."""


def _core_kwargs(
    tenant_id: str | None,
    project_id: str,
    scopes: Mapping[str, MemoryScope] | None,
    store: AlmaStore | AsyncAlmaStore,
    weights: ScoringWeights | None,
    policy: ForgetPolicy | None,
    clock: Clock | None,
    domain: DomainSchema | None,
    default_tenant: str,
) -> dict[str, Any]:
    merged = dict(scopes or {})
    check = default_scope = None
    if domain is not None:
        default_scope = domain.scope_for
        # The schema's agents share and inherit in retrieval too; `scopes=` wins.
        merged = {**domain.scopes(), **merged}

        def check(agent: str, category: str) -> None:
            domain.scope_for(agent).check(category)

    return {
        "tenant_id": tenant_id,
        "default_tenant": default_tenant,
        "project_id": project_id,
        "scopes": merged,
        "weights": weights,
        "policy": policy,
        "clock": clock,
        "category_check": check,
        "default_scope": default_scope,
        "privileged": bool(getattr(store, "privileged", False)),
    }


def merge_slices(slices: list[MemorySlice], top_k: int) -> MemorySlice:
    """One slice from several (one per tenant for GLOBAL retrieval), best scores kept."""
    merged = MemorySlice(
        query=slices[0].query if slices else None, agent=slices[0].agent if slices else None
    )
    for name in SLICE_FIELDS.values():
        found = [m for s in slices for m in getattr(s, name)]
        found.sort(key=lambda m: -m.metadata.get("score", 0.0))
        setattr(merged, name, found[:top_k])
    for s in slices:
        merged.scores.update(s.scores)
    return merged


def heuristic_ranking(
    core: MemoryCore, task: str, rank_by_confidence: bool
) -> Callable[[MemorySlice], MemorySlice] | None:
    """What `retrieve` re-orders a slice's heuristics with: the confidence engine's
    ranking (`confidence.ranking`), unless `rank_by_confidence` is False."""
    if not rank_by_confidence:
        return None
    return lambda found: rank_heuristics(found, task, core.clock())


class AlmaBase:
    """What `Alma` and `AsyncAlma` share: the memory core and the graph on the store's
    connections. Subclasses narrow `store`, `saver` and `graph` to their flavour and make
    the graph (`_new_graph`)."""

    store: AlmaStore | AsyncAlmaStore
    saver: AlmaSaver | AsyncAlmaSaver | None
    graph: GraphMemory | AsyncGraphMemory

    def __init__(
        self,
        store: AlmaStore | AsyncAlmaStore,
        saver: AlmaSaver | AsyncAlmaSaver | None = None,
        *,
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        weights: ScoringWeights | None = None,
        policy: ForgetPolicy | None = None,
        clock: Clock | None = None,
        domain: DomainSchema | None = None,
        graph: Any = None,
        extractor: Extractor | None = None,
    ) -> None:
        self.store, self.saver, self.domain, self.extractor = store, saver, domain, extractor
        settings = get_settings()  # read once, here
        self.rank_by_confidence: bool = settings.rank_heuristics_by_confidence
        """`retrieve`'s default for `rank_by_confidence`: the
        `ALMA_RANK_HEURISTICS_BY_CONFIDENCE` setting (on by default), read once, here."""
        # Unbound store: every call acts for the graph run's tenant, as the store does.
        tenant = store.tenant_id
        kwargs = _core_kwargs(
            tenant, project_id, scopes, store, weights, policy, clock, domain, settings.tenant_id
        )
        self.core = MemoryCore(**kwargs)
        self.graph = graph if graph is not None else self._new_graph(tenant, project_id, domain)

    def _new_graph(
        self, tenant_id: str | None, project_id: str, domain: DomainSchema | None
    ) -> GraphMemory | AsyncGraphMemory:
        """The graph memory on `self.store`'s connections (the subclass's flavour)."""
        raise NotImplementedError
