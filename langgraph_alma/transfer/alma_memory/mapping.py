"""Pure mapping of alma-memory rows (dicts) to our memories, and the store plan writing
them: testable without a database."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from langgraph_alma.memory import items as it
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.plan import StorePlan
from langgraph_alma.memory.types import (
    AntiPattern,
    ArtifactRef,
    ArtifactType,
    DomainKnowledge,
    Heuristic,
    Memory,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)
from langgraph_alma.transfer.alma_memory.tables import (
    ANTI_PATTERNS,
    ARTIFACT_LINKS,
    BATCH_SIZE,
    DOMAIN_KNOWLEDGE,
    HEURISTICS,
    MEMORY_STRENGTH,
    MEMORY_TABLES,
    NOT_IMPORTED,
    OUTCOMES,
    PREFERENCES,
    PROVENANCE,
    VERIFICATION,
    WORKFLOW_OUTCOMES,
    ImportReport,
)

if TYPE_CHECKING:
    pass


def _datetime(value: Any, fallback: datetime) -> datetime:
    """A source timestamp (ISO text in SQLite, timestamptz in PostgreSQL), UTC if naive."""
    if value is None or value == "":
        return fallback
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
    if not isinstance(value, datetime):
        return fallback
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(value: Any, default: Any) -> Any:
    """A JSON column: text in SQLite, already decoded (jsonb, arrays) in PostgreSQL."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return value


def _strings(value: Any) -> list[str]:
    found = _json(value, [])
    return [str(v) for v in found] if isinstance(found, list) else []


def _unit(value: Any, default: float) -> float:
    """A confidence or importance, clamped to [0, 1] (rounding can leave 1.0000001)."""
    return default if value is None else min(1.0, max(0.0, float(value)))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _common(
    table: str, row: Mapping[str, Any], project_id: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Fields every memory has: id, scope, and metadata with the provenance key."""
    metadata = _json(row.get("metadata"), {})
    if not isinstance(metadata, dict):
        metadata = {"value": metadata}
    provenance: dict[str, Any] = {"table": table}
    if row.get("tenant_id") not in (None, "", "default"):
        provenance["tenant_id"] = row["tenant_id"]
    verification = {k: _plain(row[k]) for k in VERIFICATION if row.get(k) is not None}
    if verification:
        provenance["verification"] = verification
    provenance.update({k: _plain(v) for k, v in (extra or {}).items() if v is not None})
    scope = {k: str(row[k]) for k in ("workflow_id", "run_id", "node_id") if row.get(k)}
    return {
        "id": str(row["id"]),
        "project_id": str(row.get("project_id") or project_id),
        "agent": row.get("agent") or None,
        **scope,
        "metadata": {**metadata, PROVENANCE: provenance},
    }


def _heuristic(row: Mapping[str, Any], project_id: str, now: datetime) -> Heuristic:
    created = _datetime(row.get("created_at"), now)
    validated = _datetime(row.get("last_validated"), created)
    return Heuristic(
        **_common("heuristics", row, project_id),
        condition=row["condition"],
        strategy=row["strategy"],
        confidence=_unit(row.get("confidence"), 0.0),
        occurrence_count=row.get("occurrence_count") or 0,
        success_count=row.get("success_count") or 0,
        last_validated=validated,
        created_at=created,
        last_used_at=validated,
    )


def _outcome(row: Mapping[str, Any], project_id: str, now: datetime) -> Outcome:
    at = _datetime(row.get("timestamp"), now)
    return Outcome(
        **_common("outcomes", row, project_id),
        task_type=row.get("task_type") or "general",
        task_description=row["task_description"],
        success=bool(row.get("success")),
        strategy_used=row.get("strategy_used") or "",
        duration_ms=row.get("duration_ms"),
        error_message=row.get("error_message"),
        user_feedback=row.get("user_feedback"),
        timestamp=at,
        created_at=at,
        last_used_at=at,
    )


def _preference(row: Mapping[str, Any], project_id: str, now: datetime) -> UserPreference:
    at = _datetime(row.get("timestamp"), now)
    return UserPreference(
        **_common("preferences", row, project_id),
        user_id=row["user_id"],
        category=row.get("category") or "general",
        preference=row["preference"],
        source=row.get("source") or "unknown",
        confidence=_unit(row.get("confidence"), 1.0),
        timestamp=at,
        created_at=at,
        last_used_at=at,
    )


def _knowledge(row: Mapping[str, Any], project_id: str, now: datetime) -> DomainKnowledge:
    verified = _datetime(row.get("last_verified"), now)
    return DomainKnowledge(
        **_common("domain_knowledge", row, project_id),
        domain=row.get("domain") or "general",
        fact=row["fact"],
        source=row.get("source") or "unknown",
        confidence=_unit(row.get("confidence"), 1.0),
        last_verified=verified,
        created_at=verified,  # alma-memory keeps no creation time for knowledge
        last_used_at=verified,
    )


def _anti_pattern(row: Mapping[str, Any], project_id: str, now: datetime) -> AntiPattern:
    created = _datetime(row.get("created_at"), now)
    seen = _datetime(row.get("last_seen"), created)
    occurrences = row.get("occurrence_count")
    return AntiPattern(
        **_common("anti_patterns", row, project_id),
        pattern=row["pattern"],
        why_bad=row.get("why_bad") or "",
        better_alternative=row.get("better_alternative") or "",
        occurrence_count=1 if occurrences is None else occurrences,
        last_seen=seen,
        created_at=created,
        last_used_at=seen,
    )


def _workflow_outcome(row: Mapping[str, Any], project_id: str, now: datetime) -> Memory:
    at = _datetime(row.get("created_at") or row.get("timestamp"), now)
    result = row.get("result") or ("success" if row.get("success") else "failure")
    duration = row.get("duration_ms")
    if duration is None and row.get("duration_seconds") is not None:
        duration = round(float(row["duration_seconds"]) * 1000)
    extra = {
        k: row.get(k)
        for k in ("workflow_version", "nodes_succeeded", "nodes_failed")
        if row.get(k) is not None
    }
    for k in ("extracted_heuristics", "extracted_anti_patterns"):
        if found := _strings(row.get(k)):
            extra[k] = found
    return WorkflowOutcome(
        **_common("workflow_outcomes", row, project_id, extra),
        result=result,  # type: ignore[arg-type]  # validated by pydantic
        summary=row.get("summary") or "",
        strategies_used=_strings(row.get("strategies_used")),
        successful_patterns=_strings(row.get("successful_patterns")),
        failed_patterns=_strings(row.get("failed_patterns")),
        duration_ms=duration,
        node_count=row.get("node_count"),
        error_message=row.get("error_message"),
        created_at=at,
        last_used_at=at,
    )


_MAPPERS: dict[str, Callable[[Mapping[str, Any], str, datetime], Memory]] = {
    HEURISTICS.name: _heuristic,
    OUTCOMES.name: _outcome,
    PREFERENCES.name: _preference,
    DOMAIN_KNOWLEDGE.name: _knowledge,
    ANTI_PATTERNS.name: _anti_pattern,
    WORKFLOW_OUTCOMES.name: _workflow_outcome,
}

# alma-memory artifact types we have no literal for, and the nearest one we have.
_ARTIFACT_TYPES = {
    "document": "file",
    "image": "file",
    "video": "file",
    "coverage_report": "test_result",
    "metrics": "report",
}


def map_row(table: str, row: Mapping[str, Any], *, project_id: str, now: datetime) -> Memory:
    """The memory a row of alma-memory's `table` holds (pydantic `ValidationError` when
    the row breaks a field's rule). `project_id` is for rows without one (preferences);
    `now` for missing timestamps.

    >>> map_row("outcomes", {"id": "o1", "agent": "helena", "project_id": "shop",
    ...     "task_description": "test login", "success": 1, "strategy_used": "happy path"},
    ...     project_id="default", now=datetime(2026, 1, 1, tzinfo=UTC)).success
    True
    """
    try:
        mapper = _MAPPERS[table]
    except KeyError:
        raise ValueError(f"no mapping for alma-memory table {table!r}") from None
    return mapper(row, project_id, now)


def map_artifact(row: Mapping[str, Any], linked: Memory, now: datetime) -> ArtifactRef:
    """The artifact link of a row of `artifact_links`, scoped like the memory it links."""
    source_type = str(row.get("artifact_type") or "other")
    ours = source_type if source_type in get_args(ArtifactType) else None
    ours = ours or _ARTIFACT_TYPES.get(source_type, "other")
    extra = {
        "artifact_type": source_type if ours != source_type else None,
        "filename": row.get("filename"),
        "artifact_id": row.get("artifact_id"),
        "memory_type": row.get("memory_type"),
    }
    common = _common("artifact_links", row, linked.project_id, extra)
    at = _datetime(row.get("created_at"), now)
    return ArtifactRef(
        **{**common, "agent": linked.agent, "project_id": linked.project_id},
        workflow_id=linked.workflow_id,
        run_id=linked.run_id,
        node_id=linked.node_id,
        memory_id=linked.id,
        artifact_type=ours,  # type: ignore[arg-type]  # one of ArtifactType's literals
        storage_url=row.get("storage_url") or row["storage_path"],
        checksum=row.get("checksum") or row.get("content_hash"),
        size_bytes=row.get("size_bytes"),
        mime_type=row.get("mime_type"),
        created_at=at,
        last_used_at=at,
    )


def usage_from_strength(row: Mapping[str, Any]) -> tuple[Usage, float]:
    """(usage, importance) of a `memory_strength` row: accesses become uses, each explicit
    reinforcement event one unit of reinforcement (as a "helpful" feedback is here)."""
    events = _json(row.get("reinforcement_events"), [])
    last = row.get("last_accessed")
    usage = Usage(
        use_count=max(0, int(row.get("access_count") or 0)),
        last_used_at=_datetime(last, datetime.min.replace(tzinfo=UTC)) if last else None,
        reinforcement=float(len(events)) if isinstance(events, list) else 0.0,
    )
    return usage, _unit(row.get("explicit_importance"), 0.5)


def with_usage(memory: Memory, usage: Usage, importance: float) -> Memory:
    """`memory` carrying the usage and importance alma-memory tracked for it."""
    memory.use_count, memory.reinforcement = usage.use_count, usage.reinforcement
    memory.importance = importance
    if usage.last_used_at is not None:
        memory.last_used_at = max(memory.last_used_at, usage.last_used_at)
    return memory


@dataclass
class SourceData:
    """What was read from a source: schema version, rows of the imported tables, and the
    row counts of tables that are not imported."""

    label: str
    version: str | None
    rows: dict[str, list[dict[str, Any]]]
    not_imported: dict[str, int]


Record = tuple[Memory, Usage | None]


def records(
    data: SourceData, *, tenant_id: str, project_id: str, now: datetime, report: ImportReport
) -> list[Record]:
    """Every memory to write (artifact links last, after the memories they link), with
    its usage; rows that cannot be mapped are counted in `report.skipped`."""
    by_id: dict[str, Memory] = {}
    out: list[Memory] = []
    for table in MEMORY_TABLES:
        for row in data.rows.get(table.name, []):
            try:
                memory = map_row(table.name, row, project_id=project_id, now=now)
            except (ValidationError, KeyError, TypeError, ValueError) as exc:
                report.skip(table.name, 1, f"invalid row {row.get('id')!r}: {_short(exc)}")
                continue
            by_id.setdefault(memory.id, memory)
            out.append(memory)
    for row in data.rows.get(ARTIFACT_LINKS.name, []):
        linked = by_id.get(str(row.get("memory_id")))
        if linked is None:
            report.skip(ARTIFACT_LINKS.name, 1, "the linked memory is not in the import")
            continue
        try:
            out.append(map_artifact(row, linked, now))
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            report.skip(ARTIFACT_LINKS.name, 1, f"invalid row {row.get('id')!r}: {_short(exc)}")
    usage: dict[str, tuple[Usage, float]] = {}
    for row in data.rows.get(MEMORY_STRENGTH.name, []):
        if str(row.get("memory_id")) not in by_id:
            report.skip(MEMORY_STRENGTH.name, 1, "the memory is not in the import")
            continue
        usage[str(row["memory_id"])] = usage_from_strength(row)
    result: list[Record] = []
    for memory in out:
        memory.tenant_id = tenant_id
        found = usage.get(memory.id) if not isinstance(memory, ArtifactRef) else None
        if found is not None:
            with_usage(memory, *found)
        result.append((memory, found[0] if found else None))
    for name, count in data.not_imported.items():
        report.skip(name, count, NOT_IMPORTED[name])
    return result


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return f"{type(exc).__name__}: {exc}"


def write_plan(
    found: list[Record], report: ImportReport, progress: Callable[[int, int], None] | None
) -> StorePlan[int]:
    """Store batches writing `found` with `MemoryCore`'s item layout (the store embeds
    each memory's text and fills its scope columns); progress after each batch."""
    total = len(found)
    if progress:
        progress(0, total)
    for start in range(0, total, BATCH_SIZE):
        chunk = found[start : start + BATCH_SIZE]
        ops = [it.put_op(memory) for memory, _ in chunk]
        ops += [it.usage_put(m.project_id, m.id, u) for m, u in chunk if u is not None]
        yield ops
        for memory, usage in chunk:
            report.wrote(memory)
            report.usage += 1 if usage is not None else 0
        if progress:
            progress(min(start + BATCH_SIZE, total), total)
    return total
