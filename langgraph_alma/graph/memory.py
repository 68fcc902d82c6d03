"""`AsyncGraphMemory` and `GraphMemory`: entities and relationships in PostgreSQL.

Both are thin shells over `GraphCore` plans: they pick a connection (from a pool, with no
instance-wide lock, or a single connection guarded by a lock) and drive the plan.
`GraphMemory` is GENERATED from `AsyncGraphMemory` by `scripts/unasync.py`: edit the async
class only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.config import get_settings
from langgraph_alma.db.borrow import aborrow, borrow
from langgraph_alma.db.plan import Plan, arun_plan, run_plan
from langgraph_alma.db.pools import pool_plan
from langgraph_alma.domains.schema import DomainSchema
from langgraph_alma.errors import AlmaError, ConfigError
from langgraph_alma.graph._core import DEFAULT_LIMIT, DEFAULT_MAX_DEPTH, Direction, GraphCore
from langgraph_alma.graph.types import Entity, EntityRef, Neighbor, Relationship, Subgraph

T = TypeVar("T")


class GraphClosed(AlmaError):
    """The graph memory's connection or pool is closed."""


def _scope(
    agent: str | None, workflow_id: str | None, run_id: str | None, node_id: str | None
) -> dict[str, str | None]:
    return {"agent": agent, "workflow_id": workflow_id, "run_id": run_id, "node_id": node_id}


class _GraphMemoryBase:
    """What the sync and async graph memories share: configuration and the core."""

    def __init__(
        self,
        conn: Any,
        *,
        tenant_id: str | None = None,
        project_id: str = "default",
        schema: DomainSchema | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        if isinstance(conn, psycopg.Connection | psycopg.AsyncConnection) and not conn.autocommit:
            raise ConfigError("GraphMemory needs a connection opened with autocommit=True")
        self.conn = conn
        self._core = GraphCore(
            tenant_id=tenant_id,
            project_id=project_id,
            schema=schema,
            max_depth=max_depth,
            default_tenant=get_settings().tenant_id,
        )

    @property
    def tenant_id(self) -> str:
        """The tenant of a call made now: the bound one; unbound (`tenant_id=None`), the
        graph run's `configurable["tenant_id"]`, else `ALMA_TENANT_ID`, as the store."""
        return self._core.tenant_id

    @property
    def project_id(self) -> str:
        return self._core.project_id

    @property
    def schema(self) -> DomainSchema | None:
        return self._core.schema


class AsyncGraphMemory(_GraphMemoryBase):
    """`AsyncGraphMemory`: graph memory of one tenant and project.

    >>> async with AsyncConnectionPool(url, kwargs={"autocommit": True}) as pool:  # doctest: +SKIP
    ...     graph = AsyncGraphMemory(pool, tenant_id="acme", schema=coding_schema)
    ...     await graph.add_entity("module", "auth", {"path": "src/auth.py"})
    ...     await graph.add_relationship(("test", "test_login"), "tests", ("module", "auth"))
    ...     await graph.neighbors(("module", "auth"), depth=2)
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool

    def __init__(
        self, conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool, **kwargs: Any
    ) -> None:
        super().__init__(conn, **kwargs)

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str | None = None, *, pool_size: int | None = None, **kwargs: Any
    ) -> AsyncIterator[AsyncGraphMemory]:
        """A graph memory on a new pool; with no URL, `ALMA_DATABASE_URL` or the embedded
        server. The pool is made as the saver's and the store's (`db.pools.pool_plan`);
        keyword arguments go to the constructor."""
        plan = await asyncio.to_thread(pool_plan, conn_string, pool_size=pool_size)
        async with AsyncConnectionPool(plan.url, **plan.args, open=False) as pool:
            yield cls(pool, **kwargs)

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        return aborrow(self.conn, GraphClosed, "graph memory")

    async def _arun(self, plan: Plan[T], *, transaction: bool = False) -> T:
        async with self._connection() as conn:
            return await arun_plan(conn, plan, transaction=transaction)

    async def add_entity(
        self,
        entity_type: str,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        node_id: str | None = None,
    ) -> Entity:
        """Add the entity, or merge `properties` into the one of the same type and
        (case-insensitive) name."""
        scope = _scope(agent, workflow_id, run_id, node_id)
        return await self._arun(self._core.add_entity(entity_type, name, properties, scope))

    async def add_relationship(
        self,
        source: EntityRef,
        relation_type: str,
        target: EntityRef,
        properties: Mapping[str, Any] | None = None,
        weight: float = 1.0,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        node_id: str | None = None,
    ) -> Relationship:
        """Add the edge `source -[relation_type]-> target` (each an id, an `Entity` or
        (type, name)), or update its weight and merge its properties."""
        scope = _scope(agent, workflow_id, run_id, node_id)
        plan = self._core.add_relationship(source, relation_type, target, properties, weight, scope)
        return await self._arun(plan, transaction=True)

    async def get_entity(self, ref: EntityRef) -> Entity | None:
        """The entity named by id, `Entity` or (type, name), or None."""
        return await self._arun(self._core.get_entity(ref))

    async def find_entities(
        self,
        name: str | None = None,
        entity_type: str | None = None,
        text: str | None = None,
        limit: int = DEFAULT_LIMIT,
        any_word: bool = False,
    ) -> list[Entity]:
        """Entities by exact (case-insensitive) name, type, and/or words of their name and
        string properties (each word a prefix; all of them, or any with `any_word`), best
        text match first."""
        return await self._arun(self._core.find_entities(name, entity_type, text, limit, any_word))

    async def neighbors(
        self,
        entity: EntityRef,
        depth: int = 1,
        relation_types: Iterable[str] | None = None,
        direction: Direction = "both",
        limit: int = DEFAULT_LIMIT,
    ) -> list[Neighbor]:
        """Entities within `depth` hops, nearest first, as (entity, hops, via)."""
        return await self._arun(
            self._core.neighbors(entity, depth, relation_types, direction, limit)
        )

    async def path(
        self,
        source: EntityRef,
        target: EntityRef,
        max_depth: int = 4,
        direction: Direction = "both",
    ) -> list[Relationship] | None:
        """The edges of a shortest route from `source` to `target`, in order ([] when they
        are the same entity), or None if none is within `max_depth` hops."""
        return await self._arun(self._core.path(source, target, max_depth, direction))

    async def expand(
        self,
        names: Iterable[str],
        depth: int = 1,
        relation_types: Iterable[str] | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Subgraph:
        """The entities named `names` (any type, case-insensitive), those within `depth`
        hops of them, and the edges among all of these."""
        return await self._arun(self._core.expand(names, depth, relation_types, limit))

    async def delete_entity(self, ref: EntityRef) -> bool:
        """Delete the entity and its edges; False if there was none."""
        return await self._arun(self._core.delete_entity(ref))


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class GraphMemory(_GraphMemoryBase):
    """`GraphMemory`: graph memory of one tenant and project.

    >>> with ConnectionPool(url, kwargs={"autocommit": True}) as pool:  # doctest: +SKIP
    ...     graph = GraphMemory(pool, tenant_id="acme", schema=coding_schema)
    ...     graph.add_entity("module", "auth", {"path": "src/auth.py"})
    ...     graph.add_relationship(("test", "test_login"), "tests", ("module", "auth"))
    ...     graph.neighbors(("module", "auth"), depth=2)
    """

    conn: psycopg.Connection[Any] | ConnectionPool

    def __init__(self, conn: psycopg.Connection[Any] | ConnectionPool, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conn_string: str | None = None, *, pool_size: int | None = None, **kwargs: Any
    ) -> Iterator[GraphMemory]:
        """A graph memory on a new pool; with no URL, `ALMA_DATABASE_URL` or the embedded
        server. The pool is made as the saver's and the store's (`db.pools.pool_plan`);
        keyword arguments go to the constructor."""
        plan = pool_plan(conn_string, pool_size=pool_size)
        with ConnectionPool(plan.url, **plan.args, open=False) as pool:
            yield cls(pool, **kwargs)

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return borrow(self.conn, GraphClosed, "graph memory")

    def _run(self, plan: Plan[T], *, transaction: bool = False) -> T:
        with self._connection() as conn:
            return run_plan(conn, plan, transaction=transaction)

    def add_entity(
        self,
        entity_type: str,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        node_id: str | None = None,
    ) -> Entity:
        """Add the entity, or merge `properties` into the one of the same type and
        (case-insensitive) name."""
        scope = _scope(agent, workflow_id, run_id, node_id)
        return self._run(self._core.add_entity(entity_type, name, properties, scope))

    def add_relationship(
        self,
        source: EntityRef,
        relation_type: str,
        target: EntityRef,
        properties: Mapping[str, Any] | None = None,
        weight: float = 1.0,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        run_id: str | None = None,
        node_id: str | None = None,
    ) -> Relationship:
        """Add the edge `source -[relation_type]-> target` (each an id, an `Entity` or
        (type, name)), or update its weight and merge its properties."""
        scope = _scope(agent, workflow_id, run_id, node_id)
        plan = self._core.add_relationship(source, relation_type, target, properties, weight, scope)
        return self._run(plan, transaction=True)

    def get_entity(self, ref: EntityRef) -> Entity | None:
        """The entity named by id, `Entity` or (type, name), or None."""
        return self._run(self._core.get_entity(ref))

    def find_entities(
        self,
        name: str | None = None,
        entity_type: str | None = None,
        text: str | None = None,
        limit: int = DEFAULT_LIMIT,
        any_word: bool = False,
    ) -> list[Entity]:
        """Entities by exact (case-insensitive) name, type, and/or words of their name and
        string properties (each word a prefix; all of them, or any with `any_word`), best
        text match first."""
        return self._run(self._core.find_entities(name, entity_type, text, limit, any_word))

    def neighbors(
        self,
        entity: EntityRef,
        depth: int = 1,
        relation_types: Iterable[str] | None = None,
        direction: Direction = "both",
        limit: int = DEFAULT_LIMIT,
    ) -> list[Neighbor]:
        """Entities within `depth` hops, nearest first, as (entity, hops, via)."""
        return self._run(self._core.neighbors(entity, depth, relation_types, direction, limit))

    def path(
        self,
        source: EntityRef,
        target: EntityRef,
        max_depth: int = 4,
        direction: Direction = "both",
    ) -> list[Relationship] | None:
        """The edges of a shortest route from `source` to `target`, in order ([] when they
        are the same entity), or None if none is within `max_depth` hops."""
        return self._run(self._core.path(source, target, max_depth, direction))

    def expand(
        self,
        names: Iterable[str],
        depth: int = 1,
        relation_types: Iterable[str] | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Subgraph:
        """The entities named `names` (any type, case-insensitive), those within `depth`
        hops of them, and the edges among all of these."""
        return self._run(self._core.expand(names, depth, relation_types, limit))

    def delete_entity(self, ref: EntityRef) -> bool:
        """Delete the entity and its edges; False if there was none."""
        return self._run(self._core.delete_entity(ref))
