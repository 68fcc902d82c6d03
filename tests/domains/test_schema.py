"""Domain schemas: presets, validation, scopes. Pure: no database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from langgraph_alma.domains import DomainMemoryFactory, DomainSchema
from langgraph_alma.errors import DomainSchemaError, SchemaViolation, ScopeViolation
from langgraph_alma.memory import MemoryScope


@pytest.mark.parametrize("name", ["coding", "research", "sales", "general"])
def test_presets_load_and_are_self_consistent(name: str) -> None:
    schema = DomainMemoryFactory.get_preset(name)
    assert schema.name == name
    assert schema.entity_types and schema.relationship_types and schema.learning_categories
    for rel in schema.relationship_types:
        schema.validate_relationship(rel.name, rel.source_type, rel.target_type)
    for category in schema.learning_categories:
        assert schema.allows(category)
    for category in schema.excluded_categories:
        assert not schema.allows(category)
    # A preset round-trips through plain data and create_schema.
    data = schema.model_dump(exclude={"name"})
    assert DomainMemoryFactory.create_schema(name, data) == schema
    assert getattr(DomainMemoryFactory, f"get_{name}_schema")() == schema


def test_preset_contents() -> None:
    coding = DomainMemoryFactory.get_coding_schema()
    assert {"repository", "module", "function", "test", "bug", "dependency"} <= {
        t.name for t in coding.entity_types
    }
    assert {"contains", "tests", "fixes", "depends_on"} <= {
        r.name for r in coding.relationship_types
    }
    assert {"testing", "debugging", "refactoring"} <= set(coding.learning_categories)
    research = DomainMemoryFactory.get_research_schema()
    research.validate_relationship("cites", "paper", "paper")
    sales = DomainMemoryFactory.get_sales_schema()
    assert {"lead", "account", "contact", "deal", "objection", "product"} <= {
        t.name for t in sales.entity_types
    }
    general = DomainMemoryFactory.get_general_schema()
    assert {"person", "organization", "topic", "fact"} == {t.name for t in general.entity_types}
    assert DomainMemoryFactory.list_presets() == ["coding", "general", "research", "sales"]
    with pytest.raises(DomainSchemaError, match="available presets"):
        DomainMemoryFactory.get_preset("astrology")
    assert DomainMemoryFactory.get_preset("coding") is not DomainMemoryFactory.get_preset("coding")


CONFIG = {
    "description": "quality assurance",
    "entity_types": [
        {"name": "test", "attributes": ["path"]},
        {"name": "feature", "description": "a user-facing capability"},
    ],
    "relationship_types": [{"name": "covers", "source_type": "test", "target_type": "feature"}],
    "learning_categories": ["testing", "flakiness"],
    "excluded_categories": ["deploys"],
    "min_occurrences_for_heuristic": 2,
    "agents": {"helena": {"can_learn": ["testing"], "share_with": ["victor"]}, "victor": {}},
}


def test_create_schema_from_config() -> None:
    schema = DomainMemoryFactory.create_schema("qa", CONFIG)
    assert schema.name == "qa" and schema.confidence_decay_days == 30
    schema.validate_entity("test", {"path": "t.py"})
    schema.validate_entity("feature", {"anything": 1})  # no attributes declared: any
    with pytest.raises(SchemaViolation, match="not declared"):
        schema.validate_entity("test", {"colour": "red"})
    with pytest.raises(SchemaViolation, match="not a declared entity type"):
        schema.validate_entity("bug", {})
    with pytest.raises(SchemaViolation, match="only joins"):
        schema.validate_relationship("covers", "feature", "test")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entity_typez": []}, "unknown config keys \\['entity_typez'\\]"),
        ({"name": "other"}, "names another schema"),
        (
            {
                "relationship_types": [
                    {"name": "covers", "source_type": "test", "target_type": "epic"}
                ]
            },
            "target_type 'epic', which is not a declared entity type",
        ),
        ({"entity_types": [{"name": "test"}, {"name": "test"}]}, "unique, repeated: \\['test'\\]"),
        ({"excluded_categories": ["testing"]}, "\\['testing'\\] are both learnable and excluded"),
        ({"agents": {"helena": {"can_learn": ["deploys"]}}}, "not learning categories"),
        ({"agents": {"helena": {"can_lern": ["testing"]}}}, "agents.helena.can_lern"),
        ({"min_occurrences_for_heuristic": 0}, "min_occurrences_for_heuristic"),
        ({"entity_types": [{"name": " "}]}, "entity_types.0.name"),
    ],
)
def test_create_schema_rejects_bad_config(change: dict, message: str) -> None:
    with pytest.raises(DomainSchemaError, match=message):
        DomainMemoryFactory.create_schema("qa", {**CONFIG, **change})


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValidationError, match="both learnable and excluded"):
        DomainSchema(name="x", learning_categories=["a"], excluded_categories=["a"])


def test_scope_for_enforces_categories() -> None:
    schema = DomainMemoryFactory.create_schema("qa", CONFIG)
    victor = schema.scope_for("victor")
    assert isinstance(victor, MemoryScope)
    assert victor.can_learn == ["testing", "flakiness"] and victor.cannot_learn == ["deploys"]
    assert victor.min_occurrences_for_heuristic == 2
    victor.check("flakiness")
    with pytest.raises(ScopeViolation):
        victor.check("deploys")
    with pytest.raises(ScopeViolation):
        victor.check("cooking")  # not a learning category of the domain

    helena = schema.scope_for("helena")
    assert helena.is_allowed("testing") and not helena.is_allowed("flakiness")
    assert helena.share_with == ["victor"]
    stranger = schema.scope_for("stranger")  # not listed: the domain's defaults
    assert stranger.can_learn == victor.can_learn

    assert set(schema.scopes()) == {"helena", "victor"}
    scopes = schema.scopes(["helena", "ana"])
    assert list(scopes) == ["helena", "ana"] and scopes["ana"].agent_name == "ana"
    assert schema.allows("testing") and not schema.allows("deploys")
    assert not schema.allows("cooking")
    assert DomainSchema(name="open", excluded_categories=["x"]).allows("anything")
