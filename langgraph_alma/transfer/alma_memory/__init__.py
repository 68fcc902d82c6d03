"""Import a database of `alma-memory` (the original ALMA library, import name `alma`),
its SQLite file or its PostgreSQL schema, into an `Alma`.

>>> report = import_alma_memory(alma, ".alma/alma.db")                 # doctest: +SKIP
>>> report.counts["heuristic"], report.total, report.skipped           # doctest: +SKIP

Mapping a source row (a dict) to a memory is pure (`map_row`, `usage_from_strength`),
so tests exercise it without a database; reading (`SqliteSource`, `PostgresSource`, both
read-only) and writing (store batches in the memory item layout, all in one transaction)
are thin. Memories keep alma-memory's ids as store keys, so importing again overwrites the same
items: same data, no duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from langgraph_alma.memory.plan import run_store_plan, store_atomic
from langgraph_alma.transfer.alma_memory.mapping import (
    SourceData,
    map_artifact,
    map_row,
    records,
    usage_from_strength,
    write_plan,
)
from langgraph_alma.transfer.alma_memory.sources import load, redact
from langgraph_alma.transfer.alma_memory.tables import PROVENANCE, ImportReport

if TYPE_CHECKING:
    from langgraph_alma.alma import Alma


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
    with store_atomic(alma.store, "alma.import.alma_memory"):  # all batches, one transaction
        run_store_plan(alma.store, write_plan(found, report, progress))
    return report


__all__ = [
    "PROVENANCE",
    "ImportReport",
    "SourceData",
    "import_alma_memory",
    "load",
    "map_artifact",
    "map_row",
    "records",
    "redact",
    "usage_from_strength",
    "write_plan",
]
