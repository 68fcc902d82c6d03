"""`GraphCore`: every graph memory operation, once, as a plan (see `langgraph_alma.db.plan`).

Argument checks, schema validation, parameter building and row decoding are pure code
here; `GraphMemory` and `AsyncGraphMemory` only drive the plans.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from psycopg.types.json import Jsonb

from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.db.tenancy import run_tenant
from langgraph_alma.domains.schema import DomainSchema
from langgraph_alma.errors import ConfigError, EntityNotFound
from langgraph_alma.graph import _sql
from langgraph_alma.graph.types import Entity, EntityRef, Neighbor, Relationship, Subgraph

Direction = Literal["both", "out", "in"]
DEFAULT_MAX_DEPTH = 6
DEFAULT_LIMIT = 100


def entity_from_row(row: Sequence[Any]) -> Entity:
    return Entity(**dict(zip(_sql.ENTITY_COLUMNS, row, strict=True)))


def relationship_from_row(row: Sequence[Any]) -> Relationship:
    return Relationship(**dict(zip(_sql.RELATIONSHIP_COLUMNS, row, strict=True)))


def ref_params(ref: EntityRef, prefix: str) -> tuple[bool, dict[str, Any]]:
    """(by_id, parameters) naming the entity `ref`: an id, an `Entity`, or (type, name)."""
    if isinstance(ref, Entity):
        return True, {f"{prefix}_id": ref.id}
    if isinstance(ref, str) and ref:
        return True, {f"{prefix}_id": ref}
    if isinstance(ref, tuple) and len(ref) == 2 and all(isinstance(p, str) and p for p in ref):
        return False, {f"{prefix}_type": ref[0], f"{prefix}_name": ref[1]}
    raise ConfigError(
        f"an entity is named by its id, an Entity or (entity_type, name); got {ref!r}"
    )


def prefix_query(text: str, any_word: bool = False) -> str | None:
    """A tsquery matching every word of `text` as a prefix ("auth serv" -> 'auth:* &
    serv:*'), or any of them with `any_word`; None when `text` has no words. Only word
    characters reach the query."""
    words = re.findall(r"\w+", text.lower())
    return (" | " if any_word else " & ").join(f"{w}:*" for w in words) or None


def _direction(direction: str) -> dict[str, bool]:
    if direction not in ("both", "out", "in"):
        raise ConfigError(f'direction must be "both", "out" or "in"; got {direction!r}')
    return {"out": direction != "in", "in": direction != "out"}


def _types(relation_types: Iterable[str] | None) -> list[str] | None:
    if relation_types is None:
        return None
    if isinstance(relation_types, str):  # a lone string would be read as its letters
        return [relation_types]
    return list(relation_types)


def _properties(properties: Mapping[str, Any] | None) -> Jsonb:
    if properties is not None and not isinstance(properties, Mapping):
        raise ConfigError(f"properties must be a mapping; got {properties!r}")
    return Jsonb(dict(properties or {}))


class GraphCore:
    """Plans of one graph: a tenant (bound, or each graph run's as the store reads it), a
    project and an optional domain schema."""

    def __init__(
        self,
        *,
        tenant_id: str | None,
        project_id: str = "default",
        schema: DomainSchema | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        default_tenant: str = "default",
    ) -> None:
        for label, value in (
            ("tenant_id", "default" if tenant_id is None else tenant_id),
            ("project_id", project_id),
            ("default_tenant", default_tenant),
        ):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{label} must be a non-empty string, got {value!r}")
        self.bound_tenant, self.default_tenant = tenant_id, default_tenant
        self.project_id = project_id
        self.schema = schema
        self.max_depth = max_depth

    @property
    def tenant_id(self) -> str:
        """The tenant of this call: the bound one, else the graph run's, else the default."""
        return run_tenant(self.bound_tenant, self.default_tenant)

    # -- helpers --------------------------------------------------------------------

    def _scope(self) -> dict[str, Any]:
        return {"tenant": self.tenant_id, "project": self.project_id}

    def _depth(self, depth: int) -> int:
        if not isinstance(depth, int) or not 0 <= depth <= self.max_depth:
            raise ConfigError(f"depth must be an integer from 0 to {self.max_depth}; got {depth!r}")
        return depth

    def _by_ref(self, template: str, ref: EntityRef) -> Sql:
        by_id, params = ref_params(ref, "ref")
        return Sql(
            template.format(ref=_sql.ref_where("e", "ref", by_id)),
            {**self._scope(), **params},
            fetch=True,
        )

    # -- plans ----------------------------------------------------------------------

    def add_entity(
        self,
        entity_type: str,
        name: str,
        properties: Mapping[str, Any] | None,
        scope: Mapping[str, str | None],
    ) -> Plan[Entity]:
        for label, value in (("entity_type", entity_type), ("name", name)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{label} must be a non-empty string, got {value!r}")
        props = _properties(properties)
        if self.schema is not None:
            self.schema.validate_entity(entity_type, props.obj)
        params = {
            **self._scope(),
            **scope,
            "id": uuid.uuid4().hex,
            "type": entity_type,
            "name": name,
            "properties": props,
        }
        rows = yield [set_tenant(self.tenant_id), Sql(_sql.UPSERT_ENTITY, params, fetch=True)]
        return entity_from_row(rows[1][0])  # type: ignore[index]  # fetch=True: the statement's rows

    def get_entity(self, ref: EntityRef) -> Plan[Entity | None]:
        rows = yield [set_tenant(self.tenant_id), self._by_ref(_sql.GET_ENTITY, ref)]
        return entity_from_row(rows[1][0]) if rows[1] else None

    def add_relationship(
        self,
        source: EntityRef,
        relation_type: str,
        target: EntityRef,
        properties: Mapping[str, Any] | None,
        weight: float,
        scope: Mapping[str, str | None],
    ) -> Plan[Relationship]:
        """Two batches in one transaction: resolve (and lock) both ends, then write."""
        if not isinstance(relation_type, str) or not relation_type.strip():
            raise ConfigError(f"relation_type must be a non-empty string, got {relation_type!r}")
        if not isinstance(weight, int | float) or weight != weight:
            raise ConfigError(f"weight must be a number, got {weight!r}")
        props = _properties(properties)
        rows = yield [
            set_tenant(self.tenant_id),
            self._by_ref(_sql.RESOLVE_FOR_EDGE, source),
            self._by_ref(_sql.RESOLVE_FOR_EDGE, target),
        ]
        if not rows[1]:
            raise EntityNotFound(source)
        if not rows[2]:
            raise EntityNotFound(target)
        (source_id, source_type), (target_id, target_type) = rows[1][0], rows[2][0]
        if self.schema is not None:
            self.schema.validate_relationship(relation_type, source_type, target_type)
        params = {
            **self._scope(),
            **scope,
            "id": uuid.uuid4().hex,
            "source": source_id,
            "target": target_id,
            "type": relation_type,
            "properties": props,
            "weight": float(weight),
        }
        rows = yield [
            set_tenant(self.tenant_id),
            Sql(_sql.UPSERT_RELATIONSHIP, params, fetch=True),
        ]
        return relationship_from_row(rows[1][0])  # type: ignore[index]  # fetch=True: the statement's rows

    def find_entities(
        self,
        name: str | None,
        entity_type: str | None,
        text: str | None,
        limit: int,
        any_word: bool = False,
    ) -> Plan[list[Entity]]:
        params: dict[str, Any] = {**self._scope(), "limit": limit}
        filters, order = "", _sql.ORDER_BY_NAME
        if name is not None:
            filters += _sql.FIND_BY_NAME
            params["name"] = name
        if entity_type is not None:
            filters += _sql.FIND_BY_TYPE
            params["type"] = entity_type
        if text is not None:
            query = prefix_query(text, any_word)
            if query is None:
                return []
            filters += _sql.FIND_BY_TEXT
            order = _sql.ORDER_BY_RANK
            params["text"] = query
        sql = _sql.FIND_ENTITIES.format(filters=filters, order=order)
        rows = yield [set_tenant(self.tenant_id), Sql(sql, params, fetch=True)]
        return [entity_from_row(row) for row in rows[1] or []]

    def neighbors(
        self,
        ref: EntityRef,
        depth: int,
        relation_types: Iterable[str] | None,
        direction: Direction,
        limit: int,
    ) -> Plan[list[Neighbor]]:
        by_id, params = ref_params(ref, "ref")
        params |= {
            **self._scope(),
            **_direction(direction),
            "depth": self._depth(depth),
            "types": _types(relation_types),
            "limit": limit,
        }
        rows = yield [
            set_tenant(self.tenant_id),
            self._by_ref(_sql.EXISTS_ENTITY, ref),
            Sql(_sql.NEIGHBORS.format(ref=_sql.ref_where("e", "ref", by_id)), params, fetch=True),
        ]
        if not rows[1]:
            raise EntityNotFound(ref)
        n = len(_sql.ENTITY_COLUMNS)
        return [
            Neighbor(entity_from_row(row[:n]), row[n], relationship_from_row(row[n + 1 :]))
            for row in rows[2] or []
        ]

    def path(
        self, source: EntityRef, target: EntityRef, max_depth: int, direction: Direction
    ) -> Plan[list[Relationship] | None]:
        src_by_id, params = ref_params(source, "src")
        dst_by_id, dst_params = ref_params(target, "dst")
        params |= dst_params | {
            **self._scope(),
            **_direction(direction),
            "depth": self._depth(max_depth),
            "types": None,
        }
        sql = _sql.PATH.format(
            src=_sql.ref_where("e", "src", src_by_id), dst=_sql.ref_where("e", "dst", dst_by_id)
        )
        rows = yield [set_tenant(self.tenant_id), Sql(sql, params, fetch=True)]
        result = rows[1] or []
        source_id, target_id, found = result[0][:3]
        if source_id is None:
            raise EntityNotFound(source)
        if target_id is None:
            raise EntityNotFound(target)
        if not found:
            return None
        return [relationship_from_row(row[3:]) for row in result if row[3] is not None]

    def expand(
        self, names: Iterable[str], depth: int, relation_types: Iterable[str] | None, limit: int
    ) -> Plan[Subgraph]:
        if isinstance(names, str):
            names = [names]
        lowered = sorted({n.lower() for n in names if n})
        if not lowered:
            return Subgraph()
        params = {
            **self._scope(),
            "out": True,
            "in": True,
            "names": lowered,
            "depth": self._depth(depth),
            "types": _types(relation_types),
            "limit": limit,
        }
        rows = yield [set_tenant(self.tenant_id), Sql(_sql.EXPAND_ENTITIES, params, fetch=True)]
        n = len(_sql.ENTITY_COLUMNS)
        entities = [entity_from_row(row[:n]) for row in rows[1] or []]
        hops = {row[2]: row[n] for row in rows[1] or []}
        if not entities:
            return Subgraph()
        edge_params = {**self._scope(), "ids": list(hops), "types": params["types"]}
        rows = yield [set_tenant(self.tenant_id), Sql(_sql.EDGES_AMONG, edge_params, fetch=True)]
        return Subgraph(
            seeds=[e.id for e in entities if hops[e.id] == 0],
            entities=entities,
            relationships=[relationship_from_row(row) for row in rows[1] or []],
            hops=hops,
        )

    def delete_entity(self, ref: EntityRef) -> Plan[bool]:
        rows = yield [set_tenant(self.tenant_id), self._by_ref(_sql.DELETE_ENTITY, ref)]
        return bool(rows[1])
