"""The alma-memory importer's pure part: source rows (as its SQLite and PostgreSQL
storages hold them) to our memories, with no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from langgraph_alma.memory.types import (
    AntiPattern,
    ArtifactRef,
    DomainKnowledge,
    Heuristic,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)
from langgraph_alma.transfer.alma_memory import (
    PROVENANCE,
    ImportReport,
    SourceData,
    map_artifact,
    map_row,
    records,
    redact,
    usage_from_strength,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
T1 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def _map(table: str, row: dict) -> object:
    return map_row(table, row, project_id="fallback", now=NOW)


def test_heuristic_keeps_id_scope_counts_confidence_and_times() -> None:
    h = _map(
        "heuristics",
        {
            "id": "h-1",
            "agent": "helena",
            "project_id": "shop",
            "condition": "form with required fields",
            "strategy": "happy path first",
            "confidence": 0.85,
            "occurrence_count": 7,
            "success_count": 6,
            "last_validated": "2025-04-01T00:00:00+00:00",
            "created_at": T1.isoformat(),
            "metadata": '{"source": "review"}',
            "tenant_id": "default",
            "workflow_id": "wf-1",
            "verification_status": "verified",
        },
    )
    assert isinstance(h, Heuristic)
    assert (h.id, h.agent, h.project_id, h.workflow_id) == ("h-1", "helena", "shop", "wf-1")
    assert (h.confidence, h.occurrence_count, h.success_count) == (0.85, 7, 6)
    assert h.created_at == T1 and h.last_validated == datetime(2025, 4, 1, tzinfo=UTC)
    assert h.metadata["source"] == "review"
    assert h.metadata[PROVENANCE] == {
        "table": "heuristics",
        "verification": {"verification_status": "verified"},
    }


def test_outcome_from_sqlite_ints_and_naive_text_times() -> None:
    o = _map(
        "outcomes",
        {
            "id": "o-1",
            "agent": "helena",
            "project_id": "shop",
            "task_type": None,
            "task_description": "test the login form",
            "success": 0,
            "strategy_used": None,
            "duration_ms": 1200,
            "error_message": "timeout",
            "timestamp": "2025-03-04T05:06:07",  # naive: read as UTC
            "metadata": None,
        },
    )
    assert isinstance(o, Outcome)
    assert (o.task_type, o.success, o.strategy_used, o.duration_ms) == (
        "general",
        False,
        "",
        1200,
    )
    assert o.error_message == "timeout" and o.timestamp == T1 == o.created_at


def test_preference_without_project_takes_the_import_project_and_keeps_zero_confidence() -> None:
    p = _map(
        "preferences",
        {
            "id": "p-1",
            "user_id": "ana",
            "category": "style",
            "preference": "no emojis",
            "source": "explicit_instruction",
            "confidence": 0.0,  # alma-memory's own reader turns 0.0 into 1.0; we do not
            "timestamp": T1,
        },
    )
    assert isinstance(p, UserPreference)
    assert (p.project_id, p.agent, p.user_id, p.confidence) == ("fallback", None, "ana", 0.0)


def test_knowledge_and_anti_pattern_from_postgres_values() -> None:
    k = _map(
        "domain_knowledge",
        {
            "id": "k-1",
            "agent": "helena",
            "project_id": "shop",
            "domain": "auth",
            "fact": "JWT expires in 24h",
            "source": "docs",
            "confidence": 1.0000001,  # rounding in REAL columns: clamped
            "last_verified": T1,
            "metadata": {"page": 3},  # jsonb arrives decoded
            "tenant_id": "acme",
        },
    )
    assert isinstance(k, DomainKnowledge)
    assert (k.domain, k.confidence, k.last_verified, k.metadata["page"]) == ("auth", 1.0, T1, 3)
    assert k.metadata[PROVENANCE]["tenant_id"] == "acme"  # the source tenant is remembered
    a = _map(
        "anti_patterns",
        {
            "id": "a-1",
            "agent": "helena",
            "project_id": "shop",
            "pattern": "sleep(5)",
            "why_bad": "flaky",
            "better_alternative": None,
            "occurrence_count": 4,
            "last_seen": T1,
            "created_at": None,
        },
    )
    assert isinstance(a, AntiPattern)
    assert (a.occurrence_count, a.better_alternative, a.last_seen, a.created_at) == (
        4,
        "",
        T1,
        NOW,
    )


def test_workflow_outcome_from_either_schema() -> None:
    sqlite_row = {
        "id": "w-1",
        "tenant_id": None,
        "workflow_id": "checkout",
        "run_id": "run-1",
        "agent": "helena",
        "project_id": "shop",
        "result": "partial",
        "summary": "two of three suites passed",
        "strategies_used": '["retry once"]',
        "successful_patterns": '["retry once"]',
        "failed_patterns": "[]",
        "extracted_heuristics": '["h-1"]',
        "duration_seconds": 1.5,
        "node_count": 3,
        "created_at": T1.isoformat(),
    }
    w = _map("workflow_outcomes", sqlite_row)
    assert isinstance(w, WorkflowOutcome)
    assert (w.result, w.duration_ms, w.node_count, w.run_id) == ("partial", 1500, 3, "run-1")
    assert w.successful_patterns == ["retry once"] and w.failed_patterns == []
    assert w.metadata[PROVENANCE]["extracted_heuristics"] == ["h-1"]
    # alma-memory's PostgreSQL migration 1.1.0 names these columns differently
    pg_row = {
        "id": "w-2",
        "tenant_id": "default",
        "workflow_id": "checkout",
        "run_id": "run-2",
        "success": False,
        "duration_ms": 900,
        "node_count": 2,
        "nodes_failed": 1,
        "timestamp": T1,
    }
    w2 = _map("workflow_outcomes", pg_row)
    assert (w2.result, w2.duration_ms, w2.agent, w2.project_id) == (
        "failure",
        900,
        None,
        "fallback",
    )
    assert w2.created_at == T1 and w2.metadata[PROVENANCE]["nodes_failed"] == 1


def test_artifact_takes_the_linked_memory_scope_and_nearest_type() -> None:
    linked = _map(
        "outcomes",
        {
            "id": "o-9",
            "agent": "victor",
            "project_id": "shop",
            "task_description": "t",
            "success": 1,
            "strategy_used": "s",
            "run_id": "run-9",
        },
    )
    ref = map_artifact(
        {
            "id": "art-1",
            "memory_id": "o-9",
            "artifact_type": "coverage_report",
            "storage_url": "s3://b/cov.xml",
            "filename": "cov.xml",
            "size_bytes": 10,
            "checksum": "abc",
            "created_at": T1.isoformat(),
        },
        linked,
        NOW,
    )
    assert isinstance(ref, ArtifactRef)
    assert (ref.memory_id, ref.agent, ref.project_id, ref.run_id) == (
        "o-9",
        "victor",
        "shop",
        "run-9",
    )
    assert (ref.artifact_type, ref.storage_url, ref.checksum) == (
        "test_result",
        "s3://b/cov.xml",
        "abc",
    )
    assert ref.metadata[PROVENANCE]["artifact_type"] == "coverage_report"
    assert ref.metadata[PROVENANCE]["filename"] == "cov.xml"
    pg = map_artifact(
        {
            "id": "art-2",
            "memory_id": "o-9",
            "artifact_type": "screenshot",
            "storage_path": "r2://x.png",
            "content_hash": "h",
            "size_bytes": 5,
        },
        linked,
        NOW,
    )
    assert (pg.artifact_type, pg.storage_url, pg.checksum) == ("screenshot", "r2://x.png", "h")
    assert "artifact_type" not in pg.metadata[PROVENANCE]


def test_strength_becomes_usage_and_importance() -> None:
    usage, importance = usage_from_strength(
        {
            "memory_id": "h-1",
            "access_count": 12,
            "last_accessed": "2025-05-05T00:00:00+00:00",
            "explicit_importance": 0.9,
            "reinforcement_events": '["2025-05-01T00:00:00", "2025-05-02T00:00:00"]',
        }
    )
    assert (usage.use_count, usage.reinforcement, importance) == (12, 2.0, 0.9)
    assert usage.last_used_at == datetime(2025, 5, 5, tzinfo=UTC)


def test_rows_that_break_a_rule_raise_and_are_skipped_by_records() -> None:
    bad = {"id": "o-bad", "agent": "a", "project_id": "p", "task_description": "t"}
    with pytest.raises(ValidationError):
        _map("outcomes", {**bad, "duration_ms": -5})
    with pytest.raises(ValueError, match="no mapping"):
        _map("checkpoints", {"id": "c"})
    good = {"id": "o-ok", "agent": "a", "project_id": "p", "task_description": "t"}
    data = SourceData(
        "x.db",
        "1.2.0",
        {
            "outcomes": [good, {**bad, "duration_ms": -5}],
            "artifact_links": [
                {"id": "l1", "memory_id": "o-ok", "artifact_type": "log", "storage_url": "u"},
                {"id": "l2", "memory_id": "gone", "artifact_type": "log", "storage_url": "u"},
            ],
            "memory_strength": [{"memory_id": "o-ok", "access_count": 3}],
        },
        {"checkpoints": 4},
    )
    report = ImportReport(source="x.db")
    found = records(data, tenant_id="acme", project_id="p", now=NOW, report=report)
    assert [(m.id, m.tenant_id) for m, _ in found] == [("o-ok", "acme"), ("l1", "acme")]
    assert found[0][1] is not None and found[0][1].use_count == 3 and found[1][1] is None
    assert report.skipped == {"outcomes": 1, "artifact_links": 1, "checkpoints": 4}
    assert "o-bad" in report.reasons["outcomes"] and "duration_ms" in report.reasons["outcomes"]
    assert "LangGraph" in report.reasons["checkpoints"]


def test_redact_hides_url_passwords_only() -> None:
    assert redact("postgresql://bob:s3cret@db:5432/alma") == "postgresql://bob:***@db:5432/alma"
    assert redact("postgresql://db/alma") == "postgresql://db/alma"
    assert redact("/tmp/alma.db") == "/tmp/alma.db"
