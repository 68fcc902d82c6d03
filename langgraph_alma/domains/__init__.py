"""Domain schemas: the entity types, relationship types and learning categories of a
domain (coding, research, sales, general or your own), and the per-agent `MemoryScope`s
they imply. Pure models: may import `memory.scope` and `errors`, nothing that does I/O."""

from langgraph_alma.domains.presets import DomainMemoryFactory
from langgraph_alma.domains.schema import AgentConfig, DomainSchema, EntityType, RelationshipType

__all__ = ["AgentConfig", "DomainMemoryFactory", "DomainSchema", "EntityType", "RelationshipType"]
