"""Counting items without reading them: the plan of `AlmaStore.count_items`."""

from __future__ import annotations

from typing import Any

from langgraph.store.base import SearchOp

from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.store import _sql
from langgraph_alma.store._core import StoreCore
from langgraph_alma.store._filters import build_filter
from langgraph_alma.store._prepared import ns_path


def count_plan(
    core: StoreCore, namespace_prefix: tuple[str, ...], filter: dict[str, Any] | None
) -> Plan[int]:
    """How many items a search of `namespace_prefix` with `filter` would page through:
    checked as that search would be (`InvalidStoreKey`, `InvalidFilter`), then the tenant
    set and one count, in one round trip."""
    core.check(SearchOp(tuple(namespace_prefix), filter))
    params: dict[str, Any] = {"tenant": core.tenant()}
    where = [_sql.LIVE if core.omit_expired else "TRUE", build_filter(filter, params)]
    if namespace_prefix:
        path = ns_path(namespace_prefix)
        params.update(prefix=path, prefix_lo=path + ".", prefix_hi=path + "/")
        where.append(_sql.PREFIX)
    results = yield [
        set_tenant(params["tenant"]),
        Sql(_sql.count_items(" AND ".join(where)), params, fetch=True),
    ]
    rows = results[1] or []
    return int(rows[0][0])
