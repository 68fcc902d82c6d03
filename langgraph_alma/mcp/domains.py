"""Custom domain schemas kept in the store: one item of kind "domain" per schema, in
`("alma", project, "domain")` keyed by the schema's name, so a schema created over MCP
survives restarts and is listed with the presets.

>>> await arun_store_plan(store, save_domain(schema, project_id="default"))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, cast

from langgraph.store.base import GetOp, PutOp, SearchItem, SearchOp

from langgraph_alma.domains import DomainMemoryFactory, DomainSchema
from langgraph_alma.errors import DomainSchemaError
from langgraph_alma.memory import items as it
from langgraph_alma.memory.plan import StorePlan

KIND = "domain"
MAX_DOMAINS = 1000


def namespace(project_id: str) -> tuple[str, ...]:
    return (it.ROOT, it.label(project_id), KIND)


def save_domain(
    schema: DomainSchema, project_id: str, replace: bool = False
) -> StorePlan[DomainSchema]:
    """Store a custom schema; a preset's name, or an existing name without `replace`,
    raises `DomainSchemaError`."""
    if schema.name in DomainMemoryFactory.list_presets():
        raise DomainSchemaError(schema.name, "is a preset name; choose another name")
    (existing,) = yield [GetOp(namespace(project_id), schema.name)]
    if existing is not None and not replace:
        raise DomainSchemaError(schema.name, "already exists; pass replace=true to overwrite it")
    value = {"kind": KIND, **schema.model_dump(mode="json")}
    yield [PutOp(namespace(project_id), schema.name, value, index=False)]
    return schema


def list_domains(project_id: str) -> StorePlan[list[dict[str, Any]]]:
    """Every schema a tenant's project can use: the presets, then its custom ones."""
    (found,) = yield [SearchOp(namespace(project_id), limit=MAX_DOMAINS)]
    presets = [
        {"source": "preset", **DomainMemoryFactory.get_preset(n).model_dump(mode="json")}
        for n in DomainMemoryFactory.list_presets()
    ]
    custom = [
        {"source": "custom", **{k: v for k, v in item.value.items() if k != "kind"}}
        for item in sorted(cast(list[SearchItem], found), key=lambda i: i.key)
    ]
    return presets + custom
