"""Consolidation: merge near-duplicate memories of one kind (and owner) into the strongest.

Two memories are near-duplicates when the cosine similarity of their texts' embeddings is
at least a threshold and they agree on what makes them different memories (owner, task
type, success...; see `group_key`). The strongest of a group (most evidence, then newest)
is kept; the others' counts and usage are folded into it, their artifact links move to it,
and they are deleted, all in one store batch (one transaction: nothing half-written).

The algorithm (`find_merges`, `fold`) is pure; `scan` and `apply` are store plans that
`Alma.consolidate` / `AsyncAlma.consolidate` drive around one embedding call.

>>> alma.consolidate("domain_knowledge", agent="helena", dry_run=True)   # doctest: +SKIP
ConsolidationReport(kind='domain_knowledge', ..., groups=[MergeGroup(keep='k-1', ...)])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, GetOp, PutOp, SearchOp
from pydantic import BaseModel, Field

from langgraph_alma.errors import ConfigError
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.base import CoreBase
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.plan import OFF_LOOP, StorePlan
from langgraph_alma.memory.types import (
    AntiPattern,
    ArtifactRef,
    DomainKnowledge,
    Heuristic,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)

DEFAULT_THRESHOLD = 0.92
"""Cosine similarity at or above which two memories of one kind count as duplicates."""
# Pairwise comparison is quadratic in pure Python: about a second per thousand memories.
MAX_CONSOLIDATE = 2000
MAX_MERGED_IDS = 100  # how many folded ids a keeper remembers in metadata["merged_from"]
CONSOLIDATABLE = tuple(k for k in MemoryKind if k is not MemoryKind.ARTIFACT_REF)
"""The memory kinds `consolidate` merges (artifact links point at files: never merged)."""


class MergeGroup(BaseModel):
    """One merge: `keep` absorbs `merged` (ids), each with its similarity to `keep`."""

    keep: str
    merged: list[str]
    similarities: list[float]
    texts: list[str] = Field(default_factory=list)  # keep's text first, then the merged


class ConsolidationReport(BaseModel):
    """What a consolidation merged (or, with `dry_run`, would merge)."""

    kind: MemoryKind
    agent: str | None
    threshold: float
    dry_run: bool
    scanned: int
    groups: list[MergeGroup] = Field(default_factory=list)
    removed: int = 0


@dataclass(frozen=True)
class Scanned:
    """Memories of one kind read for consolidation, with their usage."""

    kind: MemoryKind
    agent: str | None
    memories: list[Memory]
    usages: list[Usage]

    @property
    def texts(self) -> list[str]:
        return [m.search_text() for m in self.memories]


# -- pure ------------------------------------------------------------------------------
def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(math.fsum(x * x for x in a)), math.sqrt(math.fsum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def evidence(memory: Memory) -> int:
    """How many observations a memory stands for."""
    count = getattr(memory, "occurrence_count", None)
    if count is not None:
        return int(count)
    return int(memory.metadata.get("merged_count", 1))


def _newest(memory: Memory) -> float:
    stamps = [memory.created_at]
    for name in ("last_validated", "last_seen", "timestamp", "last_verified"):
        if (value := getattr(memory, name, None)) is not None:
            stamps.append(value)
    return max(stamps).timestamp()


def strength_key(memory: Memory) -> tuple[Any, ...]:
    """Sort key, strongest first: most evidence, then newest, then id (deterministic)."""
    return (-evidence(memory), -_newest(memory), memory.id)


def group_key(memory: Memory) -> tuple[Any, ...]:
    """Memories merge only within one key: same owner, and for each kind the fields that
    make two similar texts different memories (a success never merges with a failure)."""
    owner = it.owner_of(memory)
    if isinstance(memory, Outcome):
        return (owner, memory.task_type, memory.success)
    if isinstance(memory, Heuristic | AntiPattern):
        return (owner, memory.task_type)
    if isinstance(memory, DomainKnowledge):
        return (owner, memory.domain)
    if isinstance(memory, UserPreference):
        return (owner, memory.category)
    if isinstance(memory, WorkflowOutcome):
        return (owner, memory.result)
    return (owner,)


def find_merges(
    memories: Sequence[Memory], vectors: Sequence[Sequence[float]], threshold: float
) -> list[tuple[Memory, list[tuple[Memory, float]]]]:
    """Groups of near-duplicates: (keeper, [(memory, similarity to keeper)]), strongest
    keeper first. Greedy: each memory, strongest first, absorbs every weaker unassigned
    memory of its group key at least `threshold` similar to it (linking to the keeper, not
    along chains, so a group never drifts away from what it keeps).

    >>> find_merges([a, b], [[1, 0], [0.99, 0.1]], 0.9)   # doctest: +SKIP
    [(a, [(b, 0.995)])]
    """
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
    if len(memories) != len(vectors):
        raise ConfigError(f"{len(memories)} memories but {len(vectors)} vectors")
    order = sorted(range(len(memories)), key=lambda i: strength_key(memories[i]))
    keys = [group_key(m) for m in memories]
    taken: set[int] = set()
    merges = []
    for pos, i in enumerate(order):
        if i in taken:
            continue
        absorbed = []
        for j in order[pos + 1 :]:
            if j in taken or keys[j] != keys[i]:
                continue
            similarity = cosine(vectors[i], vectors[j])
            if similarity >= threshold:
                absorbed.append((memories[j], similarity))
                taken.add(j)
        if absorbed:
            taken.add(i)
            merges.append((memories[i], absorbed))
    return merges


M = TypeVar("M", bound=Memory)


def _all_of(memories: Sequence[Memory], model: type[M]) -> list[M]:
    """`memories`, every one a `model` (a merge group is of one kind)."""
    found = [m for m in memories if isinstance(m, model)]
    if len(found) != len(memories):
        raise TypeError(f"a group of {model.kind.value} memories holds another kind")
    return found


def fold(keeper: Memory, others: Sequence[Memory]) -> Memory:
    """The keeper with the others' evidence folded in (a copy; inputs untouched)."""
    merged = keeper.model_copy(deep=True)
    everyone = [keeper, *others]
    if isinstance(merged, Heuristic):
        heuristics = _all_of(everyone, Heuristic)
        n = sum(m.occurrence_count for m in heuristics)
        wins = sum(m.success_count for m in heuristics)
        merged.occurrence_count, merged.success_count = n, wins
        merged.confidence = learning.heuristic_confidence(wins, n)
        merged.last_validated = max(m.last_validated for m in heuristics)
    elif isinstance(merged, AntiPattern):
        anti_patterns = _all_of(everyone, AntiPattern)
        merged.occurrence_count = sum(m.occurrence_count for m in anti_patterns)
        merged.last_seen = max(m.last_seen for m in anti_patterns)
    else:
        merged.metadata = {**merged.metadata, "merged_count": sum(evidence(m) for m in everyone)}
    earlier = list(keeper.metadata.get("merged_from", []))
    merged.metadata = {
        **merged.metadata,
        "merged_from": (earlier + [m.id for m in others])[-MAX_MERGED_IDS:],
    }
    merged.created_at = min(m.created_at for m in everyone)
    return merged


def fold_usage(usages: Sequence[Usage]) -> Usage:
    """One usage record for a merged memory: uses add up, the latest use and the
    strongest reinforcement are kept."""
    last = [u.last_used_at for u in usages if u.last_used_at is not None]
    return Usage(
        sum(u.use_count for u in usages),
        max(last) if last else None,
        max((u.reinforcement for u in usages), default=0.0),
    )


# -- store plans -----------------------------------------------------------------------
def _kind(kind: MemoryKind | str) -> MemoryKind:
    try:
        value = MemoryKind(kind)
    except ValueError:
        value = None
    if value not in CONSOLIDATABLE:
        names = [k.value for k in CONSOLIDATABLE]
        raise ConfigError(f"cannot consolidate memories of kind {kind!r}; choose one of {names}")
    return value


def scan(core: CoreBase, kind: MemoryKind | str, agent: str | None = None) -> StorePlan[Scanned]:
    """Read the memories of `kind` in the core's project (one owner's when `agent` is
    given: the agent, or the user for preferences) and their usage."""
    kind = _kind(kind)
    prefix = it.kind_prefix(core.project_id, kind)
    if agent is not None:
        if not agent:
            raise ConfigError("agent must not be empty")
        prefix = (*prefix, it.label(agent))
    (found,) = yield [SearchOp(prefix, None, limit=MAX_CONSOLIDATE + 1)]
    if len(found) > MAX_CONSOLIDATE:
        raise ConfigError(
            f"more than {MAX_CONSOLIDATE} {kind.value} memories to compare; "
            "consolidate one agent at a time"
        )
    memories = [it.from_item(i) for i in found]
    used = yield [GetOp(it.usage_namespace(core.project_id), m.id) for m in memories]
    return Scanned(kind, agent, memories, [it.usage_of(u) for u in used])


def apply(
    core: CoreBase,
    scanned: Scanned,
    vectors: Sequence[Sequence[float]],
    threshold: float = DEFAULT_THRESHOLD,
    dry_run: bool = False,
) -> StorePlan[ConsolidationReport]:
    """Merge what `find_merges` groups: one batch writes every keeper, deletes every
    merged memory and its usage, and moves artifact links to the keeper."""
    yield OFF_LOOP  # comparing every pair is CPU work: off an async caller's loop
    merges = find_merges(scanned.memories, vectors, threshold)
    report = ConsolidationReport(
        kind=scanned.kind,
        agent=scanned.agent,
        threshold=threshold,
        dry_run=dry_run,
        scanned=len(scanned.memories),
        groups=[
            MergeGroup(
                keep=keep.id,
                merged=[m.id for m, _ in absorbed],
                similarities=[round(s, 4) for _, s in absorbed],
                texts=[keep.search_text()[:200]] + [m.search_text()[:200] for m, _ in absorbed],
            )
            for keep, absorbed in merges
        ],
    )
    if dry_run or not merges:
        return report
    usage_of = {m.id: u for m, u in zip(scanned.memories, scanned.usages, strict=True)}
    keeper_of = {m.id: keep.id for keep, absorbed in merges for m, _ in absorbed}
    (links,) = yield [
        SearchOp(
            it.kind_prefix(core.project_id, MemoryKind.ARTIFACT_REF),
            {"memory_id": {"$in": sorted(keeper_of)}},
            limit=MAX_CONSOLIDATE * 10,
        )
    ]
    project = core.project_id
    ops: list[PutOp] = []
    for keep, absorbed in merges:
        others = [m for m, _ in absorbed]
        ops.append(it.put_op(fold(keep, others)))
        ops.append(
            it.usage_put(project, keep.id, fold_usage([usage_of[m.id] for m in (keep, *others)]))
        )
        for m in others:
            ops.append(PutOp(it.namespace(m), m.id, None))
            ops.append(PutOp(it.usage_namespace(project), m.id, None))
    for link in links:
        ref = it.from_item(link)
        assert isinstance(ref, ArtifactRef)
        ops.append(it.put_op(ref.model_copy(update={"memory_id": keeper_of[ref.memory_id]})))
    yield ops  # one batch: every merge, or none of them
    report.removed = len(keeper_of)
    return report


def embedder_of(store: BaseStore) -> Embeddings:
    """The embeddings the store indexes with; offline hashing embeddings when it has none
    (consolidation compares texts, so it needs vectors even on a full-text-only store)."""
    embeddings = getattr(store, "embeddings", None)  # AlmaStore.embeddings; not on others
    if isinstance(embeddings, Embeddings):
        return embeddings
    from langgraph_alma.embeddings import HashingEmbeddings

    return HashingEmbeddings()


__all__ = [
    "CONSOLIDATABLE",
    "DEFAULT_THRESHOLD",
    "ConsolidationReport",
    "MergeGroup",
    "Scanned",
    "apply",
    "cosine",
    "embedder_of",
    "find_merges",
    "fold",
    "fold_usage",
    "group_key",
    "scan",
    "strength_key",
]
