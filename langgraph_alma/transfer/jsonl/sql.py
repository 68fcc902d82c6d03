"""The SQL of a JSON Lines transfer, as statement plans (`db.plan`): a tenant's live items
a page at a time, their count, and the restoring of exported times after an import's puts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.store.base import PutOp

from langgraph_alma.db.plan import Plan, Sql, set_tenant

PAGE = 500  # store items read, or written, per statement

# Every live item of the tenant, a page at a time in key order (the primary key's order).
EXPORT_ITEMS = """
SELECT ns_path, key, value, search_text, created_at, updated_at, ttl_minutes
FROM alma_store
WHERE tenant_id = %(tenant)s AND (ns_path, key) > (%(ns)s, %(key)s)
  AND (expires_at IS NULL OR expires_at > now())
ORDER BY ns_path, key
LIMIT %(limit)s"""
COUNT_ITEMS = """
SELECT count(*) FROM alma_store
WHERE tenant_id = %(tenant)s AND (expires_at IS NULL OR expires_at > now())"""
# The store stamps puts with now(); an import keeps the exported times instead.
RESTORE_TIMES = """
UPDATE alma_store s SET created_at = u.created_at, updated_at = u.updated_at
FROM unnest(%(ns)s::text[], %(keys)s::text[], %(created)s::timestamptz[],
            %(updated)s::timestamptz[]) AS u(ns, key, created_at, updated_at)
WHERE s.tenant_id = %(tenant)s AND s.ns_path = u.ns AND s.key = u.key"""


@dataclass
class ImportedItem:
    """A store item to import: its put, and the times it had where it came from."""

    op: PutOp
    created_at: datetime
    updated_at: datetime


def items_page(tenant: str, after: tuple[str, str]) -> Plan[list[tuple[Any, ...]]]:
    """The next `PAGE` live items of `tenant` after (ns_path, key), as rows of
    (ns_path, key, value, search_text, created_at, updated_at, ttl_minutes)."""
    params = {"tenant": tenant, "ns": after[0], "key": after[1], "limit": PAGE}
    results = yield [set_tenant(tenant), Sql(EXPORT_ITEMS, params, fetch=True)]
    return list(results[1] or [])


def count_items(tenant: str) -> Plan[int]:
    """How many live items `tenant` has."""
    results = yield [set_tenant(tenant), Sql(COUNT_ITEMS, {"tenant": tenant}, fetch=True)]
    return int(results[1][0][0]) if results[1] else 0


def restore_times(tenant: str, items: Sequence[ImportedItem]) -> Plan[None]:
    """Give the just-put `items` their exported `created_at` / `updated_at` back.

    >>> run_plan(conn, restore_times("acme", [ImportedItem(op, created, updated)]))
    ... # doctest: +SKIP
    """
    params = {
        "tenant": tenant,
        "ns": [".".join(i.op.namespace) for i in items],
        "keys": [i.op.key for i in items],
        "created": [i.created_at for i in items],
        "updated": [i.updated_at for i in items],
    }
    yield [set_tenant(tenant), Sql(RESTORE_TIMES, params)]
