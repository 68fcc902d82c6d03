"""The models graph memory returns: `Entity`, `Relationship`, `Neighbor`, `Subgraph`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Entity", "EntityRef", "Neighbor", "Relationship", "Subgraph"]


class Entity(BaseModel):
    """A node of the graph, unique by (entity_type, case-insensitive name) in its project."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    entity_type: str
    name: str
    properties: dict[str, Any] = Field(default_factory=dict)
    tenant_id: str
    project_id: str
    agent: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    created_at: datetime
    updated_at: datetime


class Relationship(BaseModel):
    """A directed, typed, weighted edge; unique by (source, target, relation_type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source_id: str
    target_id: str
    relation_type: str
    properties: dict[str, Any] = Field(default_factory=dict)
    weight: float = 1.0
    tenant_id: str
    project_id: str
    agent: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    created_at: datetime
    updated_at: datetime


# An entity named by its id, by (entity_type, name), or by the Entity itself.
EntityRef = str | tuple[str, str] | Entity
"""How a call names an entity: its id, `(entity_type, name)`, or the `Entity` itself."""


class Neighbor(NamedTuple):
    """An entity `hops` edges away, and the edge `via` which it was first reached.

    >>> for entity, hops, via in graph.neighbors(("module", "auth")): ...  # doctest: +SKIP
    """

    entity: Entity
    hops: int
    via: Relationship


class Subgraph(BaseModel):
    """Entities (with their distance from the nearest seed) and the edges among them.

    >>> print(graph.expand(["auth"]).describe())    # doctest: +SKIP
    module auth -[contains]-> function login
    """

    model_config = ConfigDict(extra="forbid")

    seeds: list[str] = Field(default_factory=list)  # ids of the entities matched by name
    entities: list[Entity] = Field(default_factory=list)
    relationships: list[Relationship] = Field(default_factory=list)
    hops: dict[str, int] = Field(default_factory=dict)  # entity id -> distance from a seed

    def entity(self, id: str) -> Entity | None:
        """The entity with `id`, if it is in the subgraph."""
        return next((e for e in self.entities if e.id == id), None)

    def describe(self) -> str:
        """One line per edge (`type name -[relation]-> type name`), then any entity without
        an edge, for a prompt."""
        by_id = {e.id: e for e in self.entities}
        lines = [
            f"{by_id[r.source_id].entity_type} {by_id[r.source_id].name} -[{r.relation_type}]-> "
            f"{by_id[r.target_id].entity_type} {by_id[r.target_id].name}"
            for r in self.relationships
        ]
        linked = {r.source_id for r in self.relationships} | {
            r.target_id for r in self.relationships
        }
        lines += [f"{e.entity_type} {e.name}" for e in self.entities if e.id not in linked]
        return "\n".join(lines)
