"""GraphMemory / AsyncGraphMemory on real PostgreSQL (each test runs on both shells)."""

from __future__ import annotations

import pytest

from langgraph_alma.domains import DomainMemoryFactory
from langgraph_alma.errors import ConfigError, EntityNotFound, SchemaViolation


async def chain(graph, *names: str, relation: str = "next") -> list:
    """Entities of type "node" linked name[0] -> name[1] -> ..."""
    entities = [await graph.add_entity("node", n) for n in names]
    for a, b in zip(entities, entities[1:], strict=False):
        await graph.add_relationship(a, relation, b)
    return entities


async def test_upsert_merges_properties_without_duplicates(graph) -> None:
    first = await graph.add_entity(
        "module", "Auth", {"path": "src/auth.py", "lines": 10}, agent="a1"
    )
    again = await graph.add_entity("module", "auth", {"lines": 12, "owner": "kim"}, agent="a2")
    assert again.id == first.id and again.name == "Auth"
    assert again.properties == {"path": "src/auth.py", "lines": 12, "owner": "kim"}
    assert again.agent == "a1"  # the scope it was first learned in stays
    assert again.updated_at >= first.updated_at
    assert len(await graph.find_entities(name="AUTH")) == 1
    other_type = await graph.add_entity("test", "auth")
    assert other_type.id != first.id
    assert await graph.get_entity(("module", "AUTH")) == again
    assert await graph.get_entity(first.id) == again
    assert await graph.get_entity(("module", "nope")) is None


async def test_relationship_upsert_and_refs(graph) -> None:
    mod = await graph.add_entity("module", "auth")
    fn = await graph.add_entity("function", "login")
    rel = await graph.add_relationship(("module", "auth"), "contains", fn.id, {"line": 3})
    again = await graph.add_relationship(mod, "contains", ("function", "LOGIN"), {"x": 1}, 0.5)
    assert again.id == rel.id
    assert (again.source_id, again.target_id) == (mod.id, fn.id)
    assert again.properties == {"line": 3, "x": 1} and again.weight == 0.5
    with pytest.raises(EntityNotFound):
        await graph.add_relationship(mod, "contains", ("function", "missing"))
    with pytest.raises(ConfigError):
        await graph.add_relationship(mod, "contains", ("function",))


async def test_neighbors_depth_direction_and_types(graph) -> None:
    a, b, c, d = await chain(graph, "a", "b", "c", "d")
    e = await graph.add_entity("node", "e")
    await graph.add_relationship(e, "mentions", a)

    one = await graph.neighbors(b)
    assert {(n.entity.name, n.hops) for n in one} == {("a", 1), ("c", 1)}
    via = {n.entity.name: n.via for n in one}
    assert (via["c"].source_id, via["c"].target_id) == (b.id, c.id)

    two = await graph.neighbors(b, depth=2)
    assert [(n.entity.name, n.hops) for n in two] == [("a", 1), ("c", 1), ("d", 2), ("e", 2)]
    entity, hops, rel = two[2]  # unpacks as (entity, hops, via)
    assert (entity.name, hops, rel.source_id) == ("d", 2, c.id)

    out = await graph.neighbors(b, depth=3, direction="out")
    assert [(n.entity.name, n.hops) for n in out] == [("c", 1), ("d", 2)]
    inbound = await graph.neighbors(b, depth=3, direction="in")
    assert [(n.entity.name, n.hops) for n in inbound] == [("a", 1), ("e", 2)]
    typed = await graph.neighbors(a, depth=3, relation_types=["mentions"])
    assert [n.entity.name for n in typed] == ["e"]
    assert await graph.neighbors(d, depth=0) == []
    with pytest.raises(EntityNotFound):
        await graph.neighbors(("node", "zz"))
    with pytest.raises(ConfigError):
        await graph.neighbors(a, direction="sideways")
    with pytest.raises(ConfigError):
        await graph.neighbors(a, depth=99)


async def test_neighbors_in_a_cycle_report_the_shortest_distance(graph) -> None:
    a, b, c = await chain(graph, "a", "b", "c")
    await graph.add_relationship(c, "next", a)  # a -> b -> c -> a
    out = await graph.neighbors(a, depth=5, direction="out")
    assert [(n.entity.name, n.hops) for n in out] == [("b", 1), ("c", 2)]


async def test_shortest_path_with_cycles(graph) -> None:
    a, b, c, d, e = await chain(graph, "a", "b", "c", "d", "e")
    await graph.add_relationship(c, "next", a)  # a cycle a -> b -> c -> a
    await graph.add_relationship(b, "shortcut", d)
    route = await graph.path(a, e)
    assert [(r.source_id, r.relation_type, r.target_id) for r in route] == [
        (a.id, "next", b.id),
        (b.id, "shortcut", d.id),
        (d.id, "next", e.id),
    ]
    assert await graph.path(a, e, max_depth=2) is None
    assert await graph.path(e, a, direction="out") is None
    back = await graph.path(("node", "e"), ("node", "a"))  # edges followed either way
    assert len(back) == 3 and back[0].target_id == e.id  # e-d-b-a or e-d-c-a: both shortest
    assert a.id in (back[-1].source_id, back[-1].target_id)
    assert await graph.path(a, a) == []
    lonely = await graph.add_entity("node", "lonely")
    assert await graph.path(a, lonely) is None
    with pytest.raises(EntityNotFound):
        await graph.path(a, ("node", "missing"))


async def test_expand_returns_the_neighbourhood_of_named_entities(graph) -> None:
    auth = await graph.add_entity("module", "auth")
    login = await graph.add_entity("function", "login")
    test = await graph.add_entity("test", "test_login")
    bug = await graph.add_entity("bug", "session leak")
    far = await graph.add_entity("dependency", "jwt")
    await graph.add_entity("module", "unrelated")
    await graph.add_relationship(auth, "contains", login)
    await graph.add_relationship(test, "tests", login)
    await graph.add_relationship(bug, "affects", login)
    await graph.add_relationship(login, "depends_on", far)

    sub = await graph.expand(["AUTH"])
    assert sub.seeds == [auth.id]
    assert {e.name for e in sub.entities} == {"auth", "login"}
    assert [r.relation_type for r in sub.relationships] == ["contains"]

    sub = await graph.expand(["auth", "session leak"], depth=2)
    assert set(sub.seeds) == {auth.id, bug.id}
    assert {e.name: sub.hops[e.id] for e in sub.entities} == {
        "auth": 0, "session leak": 0, "login": 1, "test_login": 2, "jwt": 2,
    }  # fmt: skip
    assert len(sub.relationships) == 4
    assert "module auth -[contains]-> function login" in sub.describe()
    assert (await graph.expand(["nobody"])).entities == []
    typed = await graph.expand(["auth"], depth=2, relation_types=["contains"])
    assert {e.name for e in typed.entities} == {"auth", "login"}


async def test_find_entities_by_type_and_text(graph) -> None:
    await graph.add_entity("module", "authentication", {"summary": "OAuth login flow"})
    await graph.add_entity("module", "billing", {"summary": "invoices and payments"})
    await graph.add_entity("test", "test_billing")
    assert [e.name for e in await graph.find_entities(entity_type="module")] == [
        "authentication",
        "billing",
    ]
    assert [e.name for e in await graph.find_entities(text="auth")] == ["authentication"]
    assert [e.name for e in await graph.find_entities(text="invoice")] == ["billing"]
    assert [e.name for e in await graph.find_entities(text="login oauth")] == ["authentication"]
    assert await graph.find_entities(text="!!!") == []
    assert len(await graph.find_entities(limit=1)) == 1


async def test_delete_entity_removes_its_edges(graph) -> None:
    a, b, c = await chain(graph, "a", "b", "c")
    assert await graph.delete_entity(("node", "b"))
    assert not await graph.delete_entity(b.id)
    assert await graph.neighbors(a) == []
    assert await graph.path(a, c) is None


async def test_schema_validation_writes_nothing(make_graph) -> None:
    graph = make_graph(schema=DomainMemoryFactory.get_coding_schema())
    fn = await graph.add_entity("function", "login", {"signature": "login(user)"})
    test = await graph.add_entity("test", "test_login")
    await graph.add_relationship(test, "tests", fn)
    with pytest.raises(SchemaViolation, match="not a declared entity type"):
        await graph.add_entity("spaceship", "enterprise")
    with pytest.raises(SchemaViolation, match="attributes"):
        await graph.add_entity("function", "logout", {"colour": "red"})
    with pytest.raises(SchemaViolation, match="only joins"):
        await graph.add_relationship(fn, "tests", test)  # wrong direction
    with pytest.raises(SchemaViolation, match="not a declared relationship"):
        await graph.add_relationship(test, "loves", fn)
    assert {e.name for e in await graph.find_entities()} == {"login", "test_login"}
    assert [n.via.relation_type for n in await graph.neighbors(fn)] == ["tests"]


async def test_projects_are_separate(make_graph) -> None:
    one, two = make_graph(project_id="one"), make_graph(project_id="two")
    x = await one.add_entity("node", "x")
    await two.add_entity("node", "x")
    assert await two.get_entity(x.id) is None
    with pytest.raises(EntityNotFound):
        await two.add_relationship(("node", "x"), "next", x.id)
