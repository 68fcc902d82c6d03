"""Import a database of `alma-memory` (the original ALMA library, import name `alma`),
its SQLite file or its PostgreSQL schema, into an `Alma`.

>>> report = import_alma_memory(alma, ".alma/alma.db")                 # doctest: +SKIP
>>> report.counts["heuristic"], report.total, report.skipped           # doctest: +SKIP

Mapping a source row (a dict) to a memory is pure (`map_row`, `usage_from_strength`),
so tests exercise it without a database; reading (`SqliteSource`, `PostgresSource`, both
read-only) and writing (store batches through `MemoryCore`'s item layout) are thin.
Memories keep alma-memory's ids as store keys, so importing again overwrites the same
items: same data, no duplicates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, get_args
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import ValidationError

from langgraph_alma.errors import AlmaMemorySourceError
from langgraph_alma.memory import items as it
from langgraph_alma.memory._plan import StorePlan, run_store_plan
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.types import (
    AntiPattern,
    ArtifactRef,
    ArtifactType,
    DomainKnowledge,
    Heuristic,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)

if TYPE_CHECKING:
    from langgraph_alma.alma import Alma

# Schema versions alma-memory records in `_schema_versions` (0.6 to 0.11); a database
# without that table predates its migrations and has the same core tables.
SUPPORTED_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
BATCH_SIZE = 200  # memories per store batch (one transaction each)
PROVENANCE = "alma_memory"  # metadata key: the source table and values we have no field for


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_SCOPE = _columns("tenant_id workflow_id run_id node_id")
_VERIFICATION = _columns(
    "verification_status verification_method verification_confidence verification_reason"
    " verified_at contradicting_source"
)


@dataclass(frozen=True)
class SourceTable:
    """A table alma-memory keeps: its SQLite name (PostgreSQL adds `alma_`) and every
    column any of its schema versions has; the importer reads those present."""

    name: str
    columns: tuple[str, ...] = ()

    def names(self) -> tuple[str, str]:
        return self.name, f"alma_{self.name}"


HEURISTICS = SourceTable(
    "heuristics",
    (*_columns("id agent project_id condition strategy confidence occurrence_count"
               " success_count last_validated created_at metadata"), *_SCOPE, *_VERIFICATION),
)  # fmt: skip
OUTCOMES = SourceTable(
    "outcomes",
    (*_columns("id agent project_id task_type task_description success strategy_used"
               " duration_ms error_message user_feedback timestamp metadata"),
     *_SCOPE, *_VERIFICATION),
)  # fmt: skip
PREFERENCES = SourceTable(
    "preferences",
    (*_columns("id user_id category preference source confidence timestamp metadata"),
     *_VERIFICATION),
)  # fmt: skip
DOMAIN_KNOWLEDGE = SourceTable(
    "domain_knowledge",
    (*_columns("id agent project_id domain fact source confidence last_verified metadata"),
     *_SCOPE, *_VERIFICATION),
)  # fmt: skip
ANTI_PATTERNS = SourceTable(
    "anti_patterns",
    (*_columns("id agent project_id pattern why_bad better_alternative occurrence_count"
               " last_seen created_at metadata"), *_SCOPE, *_VERIFICATION),
)  # fmt: skip
# The SQLite storage and alma-memory's PostgreSQL migration 1.1.0 define these two
# differently (result/duration_seconds vs success/duration_ms, storage_url vs
# storage_path): both column sets are read.
WORKFLOW_OUTCOMES = SourceTable(
    "workflow_outcomes",
    _columns("id tenant_id workflow_id workflow_version run_id agent project_id result"
             " success summary strategies_used successful_patterns failed_patterns"
             " extracted_heuristics extracted_anti_patterns duration_seconds duration_ms"
             " node_count nodes_succeeded nodes_failed error_message metadata created_at"
             " timestamp"),
)  # fmt: skip
ARTIFACT_LINKS = SourceTable(
    "artifact_links",
    _columns("id memory_id memory_type artifact_id artifact_type storage_url storage_path"
             " filename mime_type size_bytes checksum content_hash metadata created_at"),
)  # fmt: skip
MEMORY_STRENGTH = SourceTable(
    "memory_strength",
    _columns("memory_id access_count last_accessed explicit_importance reinforcement_events"),
)

CORE_TABLES = (HEURISTICS, OUTCOMES, PREFERENCES, DOMAIN_KNOWLEDGE, ANTI_PATTERNS)
MEMORY_TABLES = (*CORE_TABLES, WORKFLOW_OUTCOMES)

# What is not imported, and why (reported per table when it has rows).
NOT_IMPORTED: dict[str, str] = {
    "checkpoints": "alma-memory checkpoints are its own runner's state snapshots; LangGraph "
    "resumes only from its own checkpoints (finish or restart in-flight runs)",
    "session_handoffs": "session handoffs are short-lived state of alma-memory sessions; "
    "SessionManager starts its own",
    "memory_archive": "archived memories were forgotten by alma-memory and stay forgotten",
    "embeddings": "vectors of alma-memory's embedding model; the store embeds every "
    "imported memory with its own embedder",
    "retrieval_feedback": "per-retrieval events are not kept; reinforcement comes from "
    "memory_strength",
    "forget_audit": "alma-memory's record of what it forgot; forget_audit() starts afresh",
}


# Report field of each kind, named as `MemorySlice` names them.
_FIELDS = {
    MemoryKind.HEURISTIC: "heuristics",
    MemoryKind.OUTCOME: "outcomes",
    MemoryKind.USER_PREFERENCE: "preferences",
    MemoryKind.DOMAIN_KNOWLEDGE: "domain_knowledge",
    MemoryKind.ANTI_PATTERN: "anti_patterns",
    MemoryKind.WORKFLOW_OUTCOME: "workflow_outcomes",
    MemoryKind.ARTIFACT_REF: "artifact_refs",
}


@dataclass
class ImportReport:
    """What an import wrote: memories per kind, usage records (from `memory_strength`),
    and source rows not imported per table (`skipped`), with why (`reasons`)."""

    source: str
    schema_version: str | None = None
    heuristics: int = 0
    outcomes: int = 0
    preferences: int = 0
    domain_knowledge: int = 0
    anti_patterns: int = 0
    workflow_outcomes: int = 0
    artifact_refs: int = 0
    usage: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Memories written per kind (`MemoryKind` values)."""
        return {kind.value: getattr(self, name) for kind, name in _FIELDS.items()}

    @property
    def total(self) -> int:
        """Memories written."""
        return sum(self.counts.values())

    def wrote(self, memory: Memory) -> None:
        name = _FIELDS[memory.kind]
        setattr(self, name, getattr(self, name) + 1)

    def skip(self, table: str, rows: int, why: str) -> None:
        self.skipped[table] = self.skipped.get(table, 0) + rows
        known = self.reasons.get(table)
        if known is None:
            self.reasons[table] = why
        elif why not in known and len(known) < 500:
            self.reasons[table] = f"{known}; {why}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "schema_version": self.schema_version,
            "counts": self.counts,
            "usage": self.usage,
            "skipped": dict(self.skipped),
            "reasons": dict(self.reasons),
            "total": self.total,
        }


# -- pure mapping ---------------------------------------------------------------------


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
    verification = {k: _plain(row[k]) for k in _VERIFICATION if row.get(k) is not None}
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


# -- reading (read-only) ---------------------------------------------------------------


class Source(Protocol):
    """A read-only view of an alma-memory database; table and column names passed in
    are constants of this module, never user input."""

    def columns(self) -> dict[str, set[str]]: ...
    def version(self) -> str | None: ...
    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]: ...
    def count(self, table: str) -> int: ...


def read(source: Source, label: str) -> SourceData:
    """Check that `source` is an alma-memory database of a known schema version, then
    read every table the import maps."""
    present = source.columns()
    names = {t.name: next((n for n in t.names() if n in present), None) for t in CORE_TABLES}
    missing = [name for name, found in names.items() if found is None]
    if missing:
        raise AlmaMemorySourceError(
            label,
            "not an alma-memory database (no "
            + ", ".join(missing)
            + " table; for PostgreSQL, point search_path at its schema)",
        )
    version = source.version() if "_schema_versions" in present else None
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise AlmaMemorySourceError(
            label,
            f"schema version {version!r} is not one this importer knows "
            f"({', '.join(SUPPORTED_VERSIONS)}: alma-memory 0.6 to 0.11)",
        )
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in (*MEMORY_TABLES, ARTIFACT_LINKS, MEMORY_STRENGTH):
        name = next((n for n in table.names() if n in present), None)
        if name is not None:
            wanted = [c for c in table.columns if c in present[name]]
            rows[table.name] = source.select(name, wanted)
    not_imported: dict[str, int] = {}
    for kept in NOT_IMPORTED:
        for name in SourceTable(kept).names():
            if name in present and (n := source.count(name)):
                not_imported[kept] = not_imported.get(kept, 0) + n
    return SourceData(label, version, rows, not_imported)


class SqliteSource:
    """alma-memory's SQLite file, opened read-only."""

    def __init__(self, path: Path, label: str) -> None:
        self.label = label
        uri = f"{path.resolve().as_uri()}?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True)
        self.conn.row_factory = sqlite3.Row

    def columns(self) -> dict[str, set[str]]:
        try:
            tables = [r[0] for r in self.conn.execute(_SQLITE_TABLES)]
        except sqlite3.DatabaseError as exc:
            raise AlmaMemorySourceError(self.label, f"not a SQLite database ({exc})") from exc
        return {
            t: {r[1] for r in self.conn.execute("SELECT * FROM pragma_table_info(?)", (t,))}
            for t in tables
        }

    def version(self) -> str | None:
        row = self.conn.execute(_LATEST_VERSION).fetchone()
        return row[0] if row else None

    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]:
        cols = ", ".join(f'"{c}"' for c in columns)
        return [dict(r) for r in self.conn.execute(f'SELECT {cols} FROM "{table}"')]

    def count(self, table: str) -> int:
        return self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]

    def close(self) -> None:
        self.conn.close()


_SQLITE_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"
_LATEST_VERSION = "SELECT version FROM _schema_versions ORDER BY id DESC LIMIT 1"


class PostgresSource:
    """alma-memory's PostgreSQL tables in the connection's current schema, read in one
    read-only transaction (a consistent snapshot)."""

    def __init__(self, url: str, label: str) -> None:
        self.label = label
        self.conn = psycopg.connect(url, row_factory=dict_row, connect_timeout=10)
        self.conn.read_only = True
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ

    def columns(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for r in self.conn.execute(_PG_COLUMNS):
            found.setdefault(r["table_name"], set()).add(r["column_name"])
        return found

    def version(self) -> str | None:
        row = self.conn.execute(_LATEST_VERSION).fetchone()
        return row["version"] if row else None

    def select(self, table: str, columns: list[str]) -> list[dict[str, Any]]:
        query = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
        )
        return list(self.conn.execute(query))

    def count(self, table: str) -> int:
        row = self.conn.execute(
            sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))
        ).fetchone()
        return int(row["n"]) if row else 0

    def close(self) -> None:
        self.conn.close()


_PG_COLUMNS = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema()"
)


def redact(source: str) -> str:
    """`source` fit for messages: a URL's password replaced by ***."""
    parts = urlsplit(source)
    if parts.password:
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()
    return source


def load(source: str) -> SourceData:
    """Read an alma-memory database: a `postgresql://` URL, a SQLite file, or a directory
    holding `alma.db` (alma-memory's default name); `AlmaMemorySourceError` otherwise."""
    label = redact(source)
    opened: SqliteSource | PostgresSource
    if source.startswith(("postgresql://", "postgres://")):
        try:
            opened = PostgresSource(source, label)
        except psycopg.Error as exc:
            raise AlmaMemorySourceError(label, f"cannot connect ({exc})") from exc
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            path = path / "alma.db"
        if not path.is_file():
            raise AlmaMemorySourceError(label, f"no such file: {path}")
        try:
            opened = SqliteSource(path, label)
        except sqlite3.Error as exc:
            raise AlmaMemorySourceError(label, f"cannot open ({exc})") from exc
    try:
        return read(opened, label)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise AlmaMemorySourceError(label, f"cannot read ({exc})") from exc
    finally:
        opened.close()


def import_alma_memory(
    alma: Alma, source: str, *, progress: Callable[[int, int], None] | None = None
) -> ImportReport:
    """Import an alma-memory database into `alma`'s tenant: heuristics, outcomes,
    preferences, domain knowledge, anti-patterns, workflow outcomes, artifact links and
    usage, keeping ids, agents, projects, timestamps, counts and confidence. The source
    is read and checked before anything is written; running it again rewrites the same
    items. `progress(done, total)` follows the memories written.

    >>> with Alma.connect() as alma:                                    # doctest: +SKIP
    ...     print(import_alma_memory(alma, ".alma/alma.db").counts)
    """
    data = load(source)
    report = ImportReport(source=data.label, schema_version=data.version)
    core = alma.core
    found = records(
        data,
        tenant_id=core.tenant_id,
        project_id=core.project_id,
        now=datetime.now(UTC),
        report=report,
    )
    run_store_plan(alma.store, write_plan(found, report, progress))
    return report


__all__ = [
    "ImportReport",
    "SourceData",
    "import_alma_memory",
    "load",
    "map_artifact",
    "map_row",
    "usage_from_strength",
]
