"""The one place memories become store items and back.

Layout: every memory is an item in namespace `("alma", project_id, kind, owner)` keyed by
its id, where owner is the agent (the user for preferences, `_` when there is none). The
value is the model's JSON plus `kind`, `text` (what search indexes) and, for outcomes,
`strategy_key` (the normalised strategy learning groups by). Usage (uses, last use,
reinforcement) lives apart in `("alma", project_id, "usage")`, so reinforcing a memory
never rewrites, nor re-embeds, the memory itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from langgraph.store.base import Item, PutOp

from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.types import MODELS, Memory, MemoryKind, Outcome

ROOT = "alma"
USAGE = "usage"
AUDIT = "forget_audit"
NO_OWNER = "_"
_EXTRA = ("kind", "text", "strategy_key")

M = TypeVar("M", bound=Memory)


def label(value: str) -> str:
    """A namespace label for any string (store labels may not contain '.')."""
    return value.replace("%", "%25").replace(".", "%2E") or NO_OWNER


def normalise(text: str) -> str:
    """Case- and space-insensitive form of a strategy or pattern."""
    return re.sub(r"\s+", " ", text.strip().lower())


def owner_of(memory: Memory) -> str:
    user = getattr(memory, "user_id", None)
    return label(user or memory.agent or NO_OWNER)


def namespace(memory: Memory) -> tuple[str, ...]:
    return (ROOT, label(memory.project_id), memory.kind.value, owner_of(memory))


def kind_prefix(project_id: str | None, kind: MemoryKind) -> tuple[str, ...]:
    """Namespace prefix of one kind of memory in a project (all projects when None)."""
    return (ROOT, label(project_id), kind.value) if project_id is not None else (ROOT,)


def usage_namespace(project_id: str) -> tuple[str, ...]:
    return (ROOT, label(project_id), USAGE)


def audit_namespace(project_id: str) -> tuple[str, ...]:
    return (ROOT, label(project_id), AUDIT)


def to_value(memory: Memory) -> dict[str, Any]:
    value = memory.model_dump(mode="json")
    value["kind"] = memory.kind.value
    value["text"] = memory.search_text()
    if isinstance(memory, Outcome):
        value["strategy_key"] = normalise(memory.strategy_used)
    return value


def from_item(item: Item) -> Memory:
    """The memory an item holds; from a search, with its search score (`similarity` in
    its metadata) and, when the store found it by vector, the cosine similarity of its
    text to the query (`vector_similarity`)."""
    value = {k: v for k, v in item.value.items() if k not in _EXTRA}
    memory = MODELS[MemoryKind(item.value["kind"])].model_validate(value)
    found: dict[str, float] = {}
    if (score := getattr(item, "score", None)) is not None:
        found["similarity"] = float(score)
    if (vector := getattr(item, "similarity", None)) is not None:
        found["vector_similarity"] = float(vector)
    if found:
        memory.metadata = {**memory.metadata, **found}
    return memory


def from_item_as(item: Item, model: type[M]) -> M:
    """`from_item(item)`, which must be a `model` (an item read from that kind's
    namespace): `TypeError` otherwise."""
    memory = from_item(item)
    if not isinstance(memory, model):
        raise TypeError(f"item {item.key!r} holds {memory.kind.value!r}, not {model.kind.value!r}")
    return memory


def put_op(memory: Memory) -> PutOp:
    """The store op writing `memory` (its text embedded for search)."""
    return PutOp(namespace(memory), memory.id, to_value(memory), index=["text"])


def usage_of(item: Item | None) -> Usage:
    """A memory's usage from its usage item (none yet: never used)."""
    if item is None:
        return Usage()
    v = item.value
    last = v.get("last_used_at")
    return Usage(
        int(v.get("use_count", 0)),
        datetime.fromisoformat(last) if last else None,
        float(v.get("reinforcement", 0.0)),
    )


def usage_put(project: str, memory_id: str, usage: Usage) -> PutOp:
    """The store op writing a memory's usage (not embedded)."""
    last = (usage.last_used_at or datetime.now(UTC)).isoformat()
    return PutOp(
        usage_namespace(project),
        memory_id,
        {"use_count": usage.use_count, "last_used_at": last, "reinforcement": usage.reinforcement},
        index=False,
    )
