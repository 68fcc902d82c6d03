"""Learning end to end: outcomes become one heuristic, failures one anti-pattern, scopes
hold, and the old ALMA calls keep working."""

from __future__ import annotations

import pytest

from langgraph_alma.errors import ConfigError, ScopeViolation
from langgraph_alma.memory.core import AntiPatternWarning
from langgraph_alma.memory.learning import heuristic_confidence


def _learn(
    alma,
    n: int,
    *,
    success: bool = True,
    strategy: str = "test the happy path first",
    agent: str = "helena",
    task_type: str = "forms",
    **kw,
):
    return [
        alma.learn(
            agent,
            f"test form {i}",
            "success" if success else "failure",
            strategy,
            task_type=task_type,
            **kw,
        )
        for i in range(n)
    ]


def test_repeated_outcomes_make_exactly_one_growing_heuristic(alma) -> None:
    _learn(alma, 2)
    assert alma.retrieve("test a form", agent="helena").heuristics == []  # below 3 outcomes
    _learn(alma, 1)
    first = alma.retrieve("test a form", agent="helena").heuristics
    assert len(first) == 1
    h = first[0]
    assert (h.occurrence_count, h.success_count) == (3, 3)
    assert h.confidence == pytest.approx(heuristic_confidence(3, 3))
    _learn(alma, 7, strategy="  Test the HAPPY path first ")  # the same strategy, normalised
    again = alma.retrieve("test a form", agent="helena", top_k=10).heuristics
    assert len(again) == 1 and again[0].id == h.id  # updated, never duplicated
    assert (again[0].occurrence_count, again[0].success_count) == (10, 10)
    assert again[0].confidence > h.confidence  # same rate, more evidence
    _learn(alma, 2, success=False)
    worse = alma.retrieve("test a form", agent="helena", top_k=10).heuristics[0]
    assert (worse.occurrence_count, worse.success_count) == (12, 10)
    assert worse.confidence == pytest.approx(heuristic_confidence(10, 12))
    assert worse.confidence < again[0].confidence  # lower rate
    assert alma.get_stats(agent="helena")["counts"]["heuristic"] == 1


def test_repeated_failures_make_one_anti_pattern_that_warns_but_never_blocks(alma) -> None:
    _learn(alma, 3)  # a strategy that works, to suggest instead
    with pytest.warns(AntiPatternWarning, match="known anti-pattern"):
        _learn(
            alma,
            3,
            success=False,
            strategy="sleep 5s before asserting",
            error_message="flaky timeout",
        )
    found = alma.retrieve("flaky form test", agent="helena", top_k=10)
    anti = found.anti_patterns
    assert len(anti) == 1
    assert anti[0].pattern == "sleep 5s before asserting"
    assert anti[0].occurrence_count == 3 and "flaky timeout" in anti[0].why_bad
    assert anti[0].better_alternative == "test the happy path first"
    assert alma.get_stats(agent="helena")["counts"]["outcome"] == 6  # every outcome kept
    assert "Don't: sleep 5s before asserting" in found.to_prompt()


def test_blocked_category_raises_and_stores_nothing(alma) -> None:
    before = alma.get_stats()["total"]
    with pytest.raises(ScopeViolation, match="'deploys'"):
        alma.learn("helena", "ship it", "success", "blue-green", task_type="deploys")
    with pytest.raises(ScopeViolation, match="cannot_learn"):
        alma.learn("victor", "a form", "success", "x", task_type="forms")
    with pytest.raises(ScopeViolation):
        alma.add_domain_knowledge("helena", "billing", "Invoices are monthly")
    assert alma.get_stats()["total"] == before


def test_bad_arguments_are_clear_errors(alma) -> None:
    with pytest.raises(ConfigError, match="outcome must be"):
        alma.learn("helena", "t", "maybe", "s", task_type="forms")
    with pytest.raises(ConfigError, match="strategy_used"):
        alma.learn("helena", "t", "success", "  ", task_type="forms")
    with pytest.raises(ConfigError, match="top_k"):
        alma.retrieve("t", agent="helena", top_k=0)


def test_sharing_and_inheritance_on_retrieval(alma) -> None:
    alma.add_domain_knowledge("helena", "api", "The orders API paginates with cursors")
    alma.add_domain_knowledge("victor", "api", "The orders API rate limits at 100 rps")
    # victor reads helena's (she shares with him); junior inherits from helena.
    for agent, expected in [("helena", 1), ("victor", 2), ("junior", 1)]:
        facts = alma.retrieve("orders API", agent=agent).domain_knowledge
        assert len(facts) == expected, agent
    assert [f.agent for f in alma.retrieve("orders API", agent="junior").domain_knowledge] == [
        "helena"
    ]
    # an unrelated agent sees neither
    assert alma.retrieve("orders API", agent="stranger").domain_knowledge == []


def test_projects_and_tenants_are_isolated(make_alma, tenant) -> None:
    a = make_alma(project_id="alpha")
    b = make_alma(project_id="beta")
    other = make_alma(tenant_id=tenant + "-other", project_id="alpha")
    a.add_domain_knowledge("bot", "ops", "Backups run nightly at 02:00")
    assert len(a.retrieve("backups", agent="bot").domain_knowledge) == 1
    assert b.retrieve("backups", agent="bot").domain_knowledge == []
    assert other.retrieve("backups", agent="bot").domain_knowledge == []
    assert other.get_stats()["total"] == 0


def test_preferences_follow_the_user_and_old_three_argument_call_works(alma) -> None:
    alma.add_user_preference("ana", "style", "No emojis in commit messages")
    alma.add_user_preference("ana", "style", "No emojis in commit messages")  # idempotent
    alma.add_user_preference("bob", "style", "Use emojis generously")
    got = alma.retrieve(
        task="write a commit message", agent="helena", project_id="default", user_id="ana"
    )
    assert [p.preference for p in got.preferences] == ["No emojis in commit messages"]
    assert alma.retrieve(task="commit", agent="helena", project_id="default").preferences == []


async def test_async_facade_learns_and_retrieves(pool, tenant, clock, _indexed) -> None:
    from psycopg_pool import AsyncConnectionPool

    from langgraph_alma.alma import AsyncAlma
    from langgraph_alma.db.connect import connection_kwargs
    from langgraph_alma.store import AsyncAlmaStore
    from tests.memory.conftest import INDEX

    async with AsyncConnectionPool(
        pool.conninfo, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        alma = AsyncAlma(AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant), clock=clock)
        for i in range(3):
            await alma.learn("ada", f"parse csv {i}", "success", "stream rows", task_type="etl")
        got = await alma.retrieve("parse a csv file", agent="ada")
        assert [(h.strategy, h.occurrence_count) for h in got.heuristics] == [("stream rows", 3)]
        assert (await alma.get_stats())["counts"]["outcome"] == 3


def test_global_scope_needs_a_privileged_store(make_alma, database, tenant, clock) -> None:
    from psycopg_pool import ConnectionPool

    from langgraph_alma.alma import Alma
    from langgraph_alma.db.connect import connection_kwargs
    from langgraph_alma.errors import PrivilegeRequired
    from langgraph_alma.memory import RetrievalScope
    from langgraph_alma.store import AlmaStore
    from tests.memory.conftest import INDEX

    fact = "Global scope sees the zebra migration runbook"
    make_alma(tenant_id=tenant + "-a").add_domain_knowledge("ops", "infra", fact)
    make_alma(tenant_id=tenant + "-b").add_domain_knowledge("ops", "infra", fact + " too")
    with pytest.raises(PrivilegeRequired):
        make_alma().retrieve("zebra runbook", agent="ops", scope=RetrievalScope.GLOBAL)
    with ConnectionPool(
        database.admin_url, min_size=1, max_size=2, kwargs=connection_kwargs()
    ) as admin_pool:
        admin = Alma(
            AlmaStore(admin_pool, index=INDEX, tenant_id=tenant + "-a", privileged=True),
            clock=clock,
        )
        found = admin.retrieve("zebra runbook", agent="ops", scope=RetrievalScope.GLOBAL, top_k=50)
    tenants = {k.tenant_id for k in found.domain_knowledge}
    assert {tenant + "-a", tenant + "-b"} <= tenants


def test_global_scope_over_a_tenant_indexed_with_other_dims(
    make_alma, pool, database, tenant, clock
) -> None:
    """A privileged GLOBAL retrieval reads every tenant, including one whose items were
    embedded with another `dims`: they are skipped by the vector side, not cast (which
    PostgreSQL refuses: "expected 256 dimensions, not 64")."""
    from psycopg_pool import ConnectionPool

    from langgraph_alma.alma import Alma
    from langgraph_alma.db.connect import connection_kwargs
    from langgraph_alma.embeddings import HashingEmbeddings
    from langgraph_alma.memory import RetrievalScope
    from langgraph_alma.store import AlmaStore
    from tests.memory.conftest import INDEX

    index64 = {"dims": 64, "embed": HashingEmbeddings(64)}
    other = AlmaStore(pool, tenant_id=tenant + "-64", index=index64)
    for i in range(10):
        other.put(("docs", f"w{i}"), f"k{i}", {"text": f"zebra runbook note {i}", "n": i})
    make_alma(tenant_id=tenant + "-a").add_domain_knowledge("ops", "infra", "zebra runbook")
    with ConnectionPool(
        database.admin_url, min_size=1, max_size=2, kwargs=connection_kwargs()
    ) as admin_pool:
        admin = Alma(
            AlmaStore(admin_pool, index=INDEX, tenant_id=tenant + "-a", privileged=True),
            clock=clock,
        )
        found = admin.retrieve("zebra runbook", agent="ops", scope=RetrievalScope.GLOBAL, top_k=50)
    assert tenant + "-a" in {k.tenant_id for k in found.domain_knowledge}
