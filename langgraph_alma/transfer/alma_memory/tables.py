"""alma-memory's tables as the importer reads them, what is not imported and why, and
the `ImportReport` an import returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph_alma.memory.types import (
    Memory,
    MemoryKind,
)

if TYPE_CHECKING:
    pass


# Schema versions alma-memory records in `_schema_versions` (0.6 to 0.11); a database
# without that table predates its migrations and has the same core tables.
SUPPORTED_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
BATCH_SIZE = 200  # memories per store batch (one transaction each)
PROVENANCE = "alma_memory"
"""The metadata key of an imported memory: its source table, and values we have no field for."""


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


_SCOPE = _columns("tenant_id workflow_id run_id node_id")
VERIFICATION = _columns(
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
               " success_count last_validated created_at metadata"), *_SCOPE, *VERIFICATION),
)  # fmt: skip
OUTCOMES = SourceTable(
    "outcomes",
    (*_columns("id agent project_id task_type task_description success strategy_used"
               " duration_ms error_message user_feedback timestamp metadata"),
     *_SCOPE, *VERIFICATION),
)  # fmt: skip
PREFERENCES = SourceTable(
    "preferences",
    (*_columns("id user_id category preference source confidence timestamp metadata"),
     *VERIFICATION),
)  # fmt: skip
DOMAIN_KNOWLEDGE = SourceTable(
    "domain_knowledge",
    (*_columns("id agent project_id domain fact source confidence last_verified metadata"),
     *_SCOPE, *VERIFICATION),
)  # fmt: skip
ANTI_PATTERNS = SourceTable(
    "anti_patterns",
    (*_columns("id agent project_id pattern why_bad better_alternative occurrence_count"
               " last_seen created_at metadata"), *_SCOPE, *VERIFICATION),
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
