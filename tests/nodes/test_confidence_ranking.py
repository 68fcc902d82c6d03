"""Heuristics come ranked by the confidence engine's forward-looking score by default
(issue 12): in `Alma.retrieve` and so in the initializer node of a real graph, on invoke
and ainvoke, a heuristic with better evidence comes before a more text-similar one that
keeps failing; the flag (a parameter, or ALMA_RANK_HEURISTICS_BY_CONFIDENCE) restores
relevance order."""

from __future__ import annotations

import uuid
from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import nodes
from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.memory import items as it
from langgraph_alma.store import AsyncAlmaStore
from tests.memory.conftest import INDEX

pytestmark = pytest.mark.filterwarnings("ignore::langgraph_alma.memory.core.AntiPatternWarning")

TASK = "fix the flaky login test"
SIMILAR = "rerun the flaky login test"  # says what the task says, and mostly fails
PROVEN = "isolate the shared database fixture"  # says nothing of it, and always works


class State(TypedDict, total=False):
    task: str
    memories: str
    session_id: str


def _teach(alma: Alma) -> None:
    for i in range(4):
        alma.learn("helena", f"{TASK} on branch {i}", i == 0, SIMILAR, task_type="ci")
    for i in range(5):
        alma.learn("helena", f"{TASK} on release {i}", "success", PROVEN, task_type="ci")


def _order(prompt: str) -> list[str]:
    """The strategies of the prompt's heuristics, in order."""
    lines = prompt.split("## Relevant strategies\n", 1)[1].split("\n## ", 1)[0].splitlines()
    return [s for line in lines for s in (SIMILAR, PROVEN) if f": {s} (" in line]


def _graph(node) -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("init", node)
    builder.add_edge(START, "init")
    builder.add_edge("init", END)
    return builder.compile()


@pytest.fixture
def taught(make_alma) -> Alma:
    alma = make_alma()
    _teach(alma)
    return alma


def test_retrieve_ranks_heuristics_by_confidence_unless_told_not_to(taught, monkeypatch) -> None:
    ranked = taught.retrieve(TASK, "helena", record_use=False)
    assert [h.strategy for h in ranked.heuristics] == [PROVEN, SIMILAR]
    best = ranked.heuristics[0]
    assert best.metadata["confidence_score"] > ranked.heuristics[1].metadata["confidence_score"]
    assert ranked.scores[best.id] == best.metadata["score"]
    # relevance order: the text-similar heuristic first
    plain = taught.retrieve(TASK, "helena", record_use=False, rank_by_confidence=False)
    assert [h.strategy for h in plain.heuristics] == [SIMILAR, PROVEN]
    assert "confidence_score" not in plain.heuristics[0].metadata
    monkeypatch.setenv("ALMA_RANK_HEURISTICS_BY_CONFIDENCE", "false")
    # the setting is read when a facade is made: one made now keeps relevance order
    by_setting = Alma(taught.store, clock=taught.core.clock)
    plain = by_setting.retrieve(TASK, "helena", record_use=False)
    assert [h.strategy for h in plain.heuristics] == [SIMILAR, PROVEN]
    assert [h.strategy for h in taught.retrieve(TASK, "helena").heuristics] == [PROVEN, SIMILAR]


def test_ranking_considers_candidates_beyond_top_k_and_reinforces_only_those_kept(
    taught,
) -> None:
    """With top_k=1 the proven heuristic is not among relevance's first: the engine's
    ranking still sees it (it ranks every candidate before the cut), and only what is
    returned counts a use."""
    [first] = taught.retrieve(
        TASK, "helena", top_k=1, record_use=False, rank_by_confidence=False
    ).heuristics
    assert first.strategy == SIMILAR
    [only] = taught.retrieve(TASK, "helena", top_k=1).heuristics
    assert only.strategy == PROVEN
    again = taught.retrieve(TASK, "helena", top_k=2, record_use=False, rank_by_confidence=False)
    uses = {h.strategy: h for h in again.heuristics}

    def use_count(memory_id: str) -> int:
        item = taught.store.get(it.usage_namespace(taught.core.project_id), memory_id)
        return it.usage_of(item).use_count

    assert use_count(uses[PROVEN].id) == 1
    assert use_count(uses[SIMILAR].id) == 0


def test_initializer_node_on_invoke(taught) -> None:
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    ranked = _graph(nodes.initializer(taught, "helena")).invoke({"task": TASK}, config)
    assert _order(ranked["memories"]) == [PROVEN, SIMILAR]
    plain = _graph(nodes.initializer(taught, "helena", rank_by_confidence=False)).invoke(
        {"task": TASK}, config
    )
    assert _order(plain["memories"]) == [SIMILAR, PROVEN]


async def test_initializer_node_on_ainvoke_over_the_injected_store(
    taught, database, tenant
) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        store = AsyncAlmaStore(apool, index=INDEX)
        config = {"configurable": {"thread_id": uuid.uuid4().hex, "tenant_id": tenant,
                                   "agent": "helena"}}  # fmt: skip

        def compiled(node):
            builder = StateGraph(State)
            builder.add_node("init", node)
            builder.add_edge(START, "init")
            builder.add_edge("init", END)
            return builder.compile(store=store)

        ranked = await compiled(nodes.initializer()).ainvoke({"task": TASK}, config)
        assert _order(ranked["memories"]) == [PROVEN, SIMILAR]
        plain = await compiled(nodes.initializer(rank_by_confidence=False)).ainvoke(
            {"task": TASK}, config
        )
        assert _order(plain["memories"]) == [SIMILAR, PROVEN]
        # and an AsyncAlma's retrieve ranks the same way
        alma = AsyncAlma(AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant))
        found = await alma.retrieve(TASK, "helena", record_use=False)
        assert [h.strategy for h in found.heuristics] == [PROVEN, SIMILAR]
