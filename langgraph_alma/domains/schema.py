"""`DomainSchema`: the entity types, relationship types and learning categories of one
domain, and the `MemoryScope` each agent of the domain gets from it.

Pure models with no I/O: graph memory validates writes against a schema, and the facade
turns a schema into per-agent scopes.

>>> schema = DomainSchema(name="qa", learning_categories=["testing"],
...                       excluded_categories=["deploys"])
>>> schema.scope_for("helena").is_allowed("deploys")
False
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from langgraph_alma.errors import SchemaViolation
from langgraph_alma.memory.scope import MemoryScope

__all__ = ["AgentConfig", "DomainSchema", "EntityType", "RelationshipType"]


# A name with at least one non-space character.
Name = Annotated[str, Field(min_length=1, pattern=r"\S")]


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return sorted((v for v, n in Counter(values).items() if n > 1), key=str)


class EntityType(BaseModel):
    """A kind of entity. `attributes` names the properties it may have; an empty list
    accepts any property."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    description: str = ""
    attributes: list[str] = Field(default_factory=list)


class RelationshipType(BaseModel):
    """A kind of directed edge from `source_type` to `target_type`. The same name may be
    declared for several endpoint pairs (a repository contains modules, a module contains
    functions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    source_type: Name
    target_type: Name
    description: str = ""


class AgentConfig(BaseModel):
    """How one agent of the domain departs from the domain's defaults.

    `can_learn`, when given, narrows the domain's learning categories; `cannot_learn`
    adds exclusions."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    can_learn: list[str] | None = None
    cannot_learn: list[str] = Field(default_factory=list)
    share_with: list[str] = Field(default_factory=list)
    inherit_from: list[str] = Field(default_factory=list)


class DomainSchema(BaseModel):
    """A domain: what exists in it (entity and relationship types) and what its agents
    may learn. Invalid definitions raise pydantic's `ValidationError` (a `ValueError`)
    naming the offending value; `DomainMemoryFactory.create_schema` raises
    `DomainSchemaError` instead.

    >>> DomainMemoryFactory.get_coding_schema().allows("testing")   # doctest: +SKIP
    True
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    name: Name
    description: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = Field(default_factory=dict)
    entity_types: list[EntityType] = Field(default_factory=list)
    relationship_types: list[RelationshipType] = Field(default_factory=list)
    learning_categories: list[str] = Field(default_factory=list)
    excluded_categories: list[str] = Field(default_factory=list)
    min_occurrences_for_heuristic: int = Field(default=3, ge=1)
    confidence_decay_days: float = Field(default=30, gt=0)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> DomainSchema:
        problems: list[str] = []
        if dup := _duplicates(t.name for t in self.entity_types):
            problems.append(f"entity type names must be unique, repeated: {dup}")
        if dup := _duplicates(
            (r.name, r.source_type, r.target_type) for r in self.relationship_types
        ):
            problems.append(f"relationship types are declared twice: {dup}")
        declared = {t.name for t in self.entity_types}
        for rel in self.relationship_types:
            for end in ("source_type", "target_type"):
                if getattr(rel, end) not in declared:
                    problems.append(
                        f"relationship {rel.name!r} has {end} {getattr(rel, end)!r}, which is "
                        f"not a declared entity type (declared: {sorted(declared)})"
                    )
        for field in ("learning_categories", "excluded_categories"):
            if dup := _duplicates(getattr(self, field)):
                problems.append(f"{field} repeats {dup}")
        if both := sorted(set(self.learning_categories) & set(self.excluded_categories)):
            problems.append(f"categories {both} are both learnable and excluded")
        for agent, config in self.agents.items():
            extra = sorted(set(config.can_learn or ()) - set(self.learning_categories))
            if extra:
                problems.append(
                    f"agent {agent!r} can_learn {extra}, which are not learning categories "
                    f"of the domain ({self.learning_categories})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- categories and scopes ---------------------------------------------------------

    def allows(self, category: str) -> bool:
        """May the domain's agents learn `category`? (Not excluded, and among the learning
        categories when the domain lists any.)"""
        if category in self.excluded_categories:
            return False
        return not self.learning_categories or category in self.learning_categories

    def scope_for(self, agent: str) -> MemoryScope:
        """The `MemoryScope` of `agent` in this domain; an agent not listed in `agents`
        gets the domain's defaults.

        >>> schema.scope_for("helena").is_allowed("deploys")     # doctest: +SKIP
        False
        """
        config = self.agents.get(agent, AgentConfig())
        can_learn = config.can_learn if config.can_learn is not None else self.learning_categories
        return MemoryScope(
            agent_name=agent,
            can_learn=list(can_learn),
            cannot_learn=list(dict.fromkeys([*self.excluded_categories, *config.cannot_learn])),
            share_with=list(config.share_with),
            inherit_from=list(config.inherit_from),
            min_occurrences_for_heuristic=self.min_occurrences_for_heuristic,
        )

    def scopes(self, agents: Iterable[str] | None = None) -> dict[str, MemoryScope]:
        """Scopes for `agents` (default: the agents the schema declares), by agent name.

        >>> alma_scopes = schema.scopes(["helena", "victor"])   # doctest: +SKIP
        """
        names = list(self.agents) if agents is None else list(agents)
        return {name: self.scope_for(name) for name in names}

    # -- graph validation --------------------------------------------------------------

    def entity_type(self, name: str) -> EntityType | None:
        """The declared entity type called `name`, if any."""
        return next((t for t in self.entity_types if t.name == name), None)

    def validate_entity(
        self, entity_type: str, attributes: Mapping[str, Any] | Iterable[str] | None = None
    ) -> None:
        """Raise `SchemaViolation` unless `entity_type` is declared and every attribute
        (property name) is one it declares.

        >>> schema.validate_entity("function", {"signature": "f(x)"})   # doctest: +SKIP
        """
        declared = self.entity_type(entity_type)
        if declared is None:
            names = sorted(t.name for t in self.entity_types)
            raise SchemaViolation(
                self.name, entity_type, f"not a declared entity type (declared: {names})"
            )
        if declared.attributes and attributes:
            unknown = sorted(set(attributes) - set(declared.attributes))
            if unknown:
                raise SchemaViolation(
                    self.name,
                    entity_type,
                    f"attributes {unknown} are not declared (declared: {declared.attributes})",
                )

    def validate_relationship(self, relation_type: str, source_type: str, target_type: str) -> None:
        """Raise `SchemaViolation` unless `source_type -[relation_type]-> target_type` is
        declared.

        >>> schema.validate_relationship("tests", "test", "function")   # doctest: +SKIP
        """
        allowed = [r for r in self.relationship_types if r.name == relation_type]
        if not allowed:
            raise SchemaViolation(
                self.name,
                relation_type,
                "not a declared relationship type (declared: "
                f"{sorted({r.name for r in self.relationship_types})})",
            )
        if not any(r.source_type == source_type and r.target_type == target_type for r in allowed):
            pairs = [f"{r.source_type}->{r.target_type}" for r in allowed]
            raise SchemaViolation(
                self.name,
                f"{source_type}-[{relation_type}]->{target_type}",
                f"{relation_type!r} only joins {pairs}",
            )
