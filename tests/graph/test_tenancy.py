"""Tenants never see each other's graph: through the API, and in raw SQL as the app role."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from langgraph_alma.errors import EntityNotFound


async def test_tenant_b_sees_nothing_of_tenant_a(make_graph, tenant) -> None:
    a = make_graph(tenant_id=tenant)
    b = make_graph(tenant_id=f"{tenant}-b")
    x = await a.add_entity("node", "x", {"secret": 1})
    y = await a.add_entity("node", "y")
    await a.add_relationship(x, "next", y)

    assert await b.get_entity(x.id) is None
    assert await b.get_entity(("node", "x")) is None
    assert await b.find_entities() == []
    assert await b.find_entities(text="x") == []
    assert (await b.expand(["x"], depth=2)).entities == []
    assert not await b.delete_entity(x.id)
    with pytest.raises(EntityNotFound):
        await b.neighbors(x.id)
    with pytest.raises(EntityNotFound):
        await b.add_relationship(x.id, "next", y.id)
    # The same names in tenant B are B's own entities.
    bx = await b.add_entity("node", "x")
    assert bx.id != x.id and bx.properties == {}
    assert [n.entity.name for n in await a.neighbors(x)] == ["y"]


def test_row_level_security_hides_other_tenants_rows(database, pool) -> None:
    from langgraph_alma.graph import GraphMemory

    a, b = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    for t in (a, b):
        g = GraphMemory(pool, tenant_id=t)
        g.add_relationship(g.add_entity("node", "p").id, "next", g.add_entity("node", "q").id)

    with psycopg.connect(database.url) as conn:  # the app role, not the owner
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", (a,))
        for table in ("alma_entities", "alma_relationships"):
            own = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            theirs = conn.execute(
                f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (b,)
            ).fetchone()
            assert own[0] >= 1 and theirs == (0,)
            tenants = conn.execute(f"SELECT DISTINCT tenant_id FROM {table}").fetchall()
            assert tenants == [(a,)]
        assert conn.execute("DELETE FROM alma_entities WHERE tenant_id = %s", (b,)).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO alma_entities (tenant_id, id, entity_type, name) "
                "VALUES (%s, 'forged', 'node', 'z')",
                (b,),
            )
        conn.rollback()
        # With no tenant set, nothing is visible at all.
        assert conn.execute("SELECT count(*) FROM alma_entities").fetchone() == (0,)
    assert len(GraphMemory(pool, tenant_id=b).find_entities()) == 2
