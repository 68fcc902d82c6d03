"""`from_conn_string` and `setup()`, sync and async, and the privileged instance."""

from __future__ import annotations

import psycopg

from langgraph_alma import AlmaStore, AsyncAlmaStore
from tests.store.conftest import afake_embed, fake_embed


def _indexes(database) -> set[str]:
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'alma_store_vectors'"
        ).fetchall()
    return {r[0] for r in rows}


def test_sync_from_conn_string_and_setup(database, tenant, ns) -> None:
    index = {"dims": 12, "embed": lambda texts: [[1.0] * 12 for _ in texts]}
    with AlmaStore.from_conn_string(
        database.url, index=index, tenant_id=tenant, admin_url=database.admin_url
    ) as store:
        store.setup()
        store.setup()  # idempotent
        # no 12-d vectors yet: the HNSW index waits for them (`store_ann_build_min`;
        # tests/store/test_ann_build.py)
        assert "alma_store_vectors_hnsw_12" not in _indexes(database)
        store.put(ns, "k", {"text": "hello"})
        assert store.search(ns, query="hello")[0].key == "k"
    with AlmaStore.from_conn_string(
        database.url, privileged=True, admin_url=database.admin_url
    ) as admin:
        assert tenant in admin.list_tenants()


async def test_async_from_conn_string_and_setup(database, tenant, ns) -> None:
    index = {"dims": 64, "embed": afake_embed, "fields": ["text"]}
    async with AsyncAlmaStore.from_conn_string(
        database.url, index=index, tenant_id=tenant, admin_url=database.admin_url
    ) as store:
        await store.setup()
        await store.aput(ns, "k", {"text": "a kitten"})
        assert (await store.asearch(ns, query="feline"))[0].key == "k"
    async with AsyncAlmaStore.from_conn_string(
        database.url, privileged=True, admin_url=database.admin_url
    ) as admin:
        assert tenant in await admin.alist_tenants()


def test_single_connection_store(database, tenant, ns) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        store = AlmaStore(conn, tenant_id=tenant, index={"dims": 64, "embed": fake_embed})
        store.put(ns, "k", {"text": "tea"})
        assert store.get(ns, "k").value == {"text": "tea"}


def test_items_carry_only_the_indexes_the_store_reads(database) -> None:
    """Each index on the items is one a statement of the store reads through: the
    primary key (gets, prefix ranges), `updated_at` (searches without a query, newest
    first), `expires_at` (the TTL sweep), the words (full text). The GIN over values
    (0002) answered only `@>`, which no filter compiles to: migration 0014 drops it, so
    puts no longer pay for it."""
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'alma_store'"
        ).fetchall()
    assert {r[0] for r in rows} == {
        "alma_store_pkey",
        "alma_store_updated_idx",
        "alma_store_expires_idx",
        "alma_store_tsv_idx",
    }
