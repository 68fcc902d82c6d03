"""Graph memory: entities and typed, weighted relationships in PostgreSQL (tables
`alma_entities`, `alma_relationships`), with traversal by recursive SQL, optionally
validated against a `DomainSchema`. May import `db`, `config`, `errors`, `domains`.

>>> graph = GraphMemory(pool, tenant_id="acme")                    # doctest: +SKIP
>>> graph.expand(["auth"], depth=2).describe()
"""

from langgraph_alma.graph.memory import AsyncGraphMemory, GraphClosed, GraphMemory
from langgraph_alma.graph.types import Entity, EntityRef, Neighbor, Relationship, Subgraph

__all__ = [
    "AsyncGraphMemory",
    "Entity",
    "EntityRef",
    "GraphClosed",
    "GraphMemory",
    "Neighbor",
    "Relationship",
    "Subgraph",
]
