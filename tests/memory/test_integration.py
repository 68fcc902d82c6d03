"""The facade with the other services: domain schemas, graph memory, extraction."""

from __future__ import annotations

import pytest

from langgraph_alma.domains import DomainMemoryFactory
from langgraph_alma.errors import ScopeViolation
from langgraph_alma.extraction import RuleBasedExtractor


def test_domain_schema_limits_learning_and_sets_min_occurrences(make_alma) -> None:
    schema = DomainMemoryFactory.create_schema(
        "ops",
        {
            "learning_categories": ["deploys", "incidents"],
            "excluded_categories": ["billing"],
            "min_occurrences_for_heuristic": 2,
        },
    )
    alma = make_alma(domain=schema)
    with pytest.raises(ScopeViolation):
        alma.learn("ana", "refund", "success", "manual refund", task_type="billing")
    with pytest.raises(ScopeViolation):
        alma.learn("ana", "a form", "success", "x", task_type="forms")  # not learnable
    for i in range(2):
        alma.learn("ana", f"deploy {i}", "success", "blue green deploy", task_type="deploys")
    got = alma.retrieve("deploy the service", agent="ana").heuristics
    assert [(h.strategy, h.occurrence_count) for h in got] == [("blue green deploy", 2)]


def test_coding_preset_and_graph_following_retrieval(make_alma) -> None:
    alma = make_alma(domain=DomainMemoryFactory.get_coding_schema())
    g = alma.graph
    types = {t.name for t in alma.domain.entity_types}
    assert {"repository", "module", "function", "test", "bug"} <= types
    rel = next(r for r in alma.domain.relationship_types if r.source_type == "bug")
    bug = g.add_entity("bug", "checkout rounding bug")
    target = g.add_entity(rel.target_type, "payments")
    g.add_relationship(bug, rel.name, target)
    alma.add_domain_knowledge("devon", "debugging", "Money is kept in integer cents")
    got = alma.retrieve("fix the checkout rounding bug", agent="devon", follow_relationships=1)
    assert any("checkout rounding bug" in line and "payments" in line for line in got.related)
    assert "Related entities" in got.to_prompt()
    assert alma.retrieve("fix the checkout rounding bug", agent="devon").related == []


def test_learning_from_a_conversation_offline(make_alma) -> None:
    alma = make_alma(extractor=RuleBasedExtractor())
    stored = alma.learn_from_conversation(
        "user: I prefer short commit messages.\n"
        "assistant: When the build is red, run the failing test alone first.\n",
        agent="devon",
        user_id="ana",
    )
    assert stored, "the rule-based extractor found nothing"
    got = alma.retrieve("commit message style", agent="devon", user_id="ana")
    assert any("short commit messages" in p.preference for p in got.preferences)


def test_extracted_memories_outside_scope_store_nothing(make_alma) -> None:
    from langgraph_alma.memory import MemoryScope

    alma = make_alma(
        extractor=RuleBasedExtractor(),
        scopes={"devon": MemoryScope(agent_name="devon", can_learn=["nothing"])},
    )
    before = alma.get_stats()["total"]
    with pytest.raises(ScopeViolation):
        alma.learn_from_conversation(
            "assistant: When the build is red, run the failing test alone first.", agent="devon"
        )
    assert alma.get_stats()["total"] == before
