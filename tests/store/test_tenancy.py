"""Tenant isolation: by the store API, by crafted input, and by PostgreSQL itself."""

from __future__ import annotations

import psycopg
import pytest
from langgraph.store.base import InvalidNamespaceError
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaStore, PrivilegeRequired, TenantMismatch
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.store._core import StoreCore


@pytest.fixture
def two(pool, tenant, ns, indexed_setup):
    from tests.store.conftest import DIMS, fake_embed

    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    a = AlmaStore(pool, tenant_id=tenant + "-a", index=index)
    b = AlmaStore(pool, tenant_id=tenant + "-b", index=index)
    b.put(ns, "secret", {"text": "the launch code is swordfish", "level": 9})
    return a, b


def test_other_tenant_sees_nothing(two, ns) -> None:
    a, b = two
    assert a.get(ns, "secret") is None
    assert a.search(ns) == []
    assert a.search((), filter={"level": 9}) == []
    assert a.search((), query="swordfish launch code") == []
    assert a.list_namespaces() == []
    a.put(ns, "secret", {"text": "mine"})
    a.delete(ns, "secret")
    assert b.get(ns, "secret").value["text"] == "the launch code is swordfish"


def test_crafted_namespaces_are_rejected(two, ns) -> None:
    a, _ = two
    for crafted in [(".".join(ns),), (ns[0], ns[1] + ".secret"), ("", *ns)]:
        with pytest.raises(InvalidNamespaceError):
            a.get(crafted, "secret")


def test_row_level_security_as_app_role(two, database, ns) -> None:
    a, b = two
    a.put(ns, "mine", {"text": "hello"})
    with psycopg.connect(database.url) as conn:  # alma_app, not a superuser
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", (a.tenant_id,))
        for table in ("alma_store", "alma_store_vectors"):
            seen = conn.execute(f"SELECT DISTINCT tenant_id FROM {table}").fetchall()
            assert seen == [(a.tenant_id,)]
            hidden = f"SELECT count(*) FROM {table} WHERE tenant_id = %s"
            assert conn.execute(hidden, (b.tenant_id,)).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO alma_store (tenant_id, ns_path, key, value) "
                "VALUES (%s, 'x', 'k', '{}')",
                (b.tenant_id,),
            )
    with psycopg.connect(database.url) as conn:  # no tenant set: nothing at all
        assert conn.execute("SELECT count(*) FROM alma_store").fetchone() == (0,)


def test_run_config_tenant() -> None:
    core = StoreCore(tenant_id=None, default_tenant="default")
    assert core.tenant() == "default"
    assert core.tenant({"configurable": {"tenant_id": "acme"}}) == "acme"
    bound = StoreCore(tenant_id="acme", default_tenant="default")
    assert bound.tenant({"configurable": {"tenant_id": "acme"}}) == "acme"
    with pytest.raises(TenantMismatch):
        bound.tenant({"configurable": {"tenant_id": "evil"}})


def test_listing_tenants_needs_privilege(two, database) -> None:
    a, b = two
    with pytest.raises(PrivilegeRequired):
        a.list_tenants()
    with ConnectionPool(
        database.admin_url, min_size=1, max_size=1, kwargs=connection_kwargs()
    ) as p:
        admin = AlmaStore(p, privileged=True)
        tenants = admin.list_tenants()
    assert b.tenant_id in tenants


def test_for_tenant_view(two, ns) -> None:
    a, b = two
    assert a.for_tenant(b.tenant_id).get(ns, "secret") is not None
    assert a.tenant_id != b.tenant_id
