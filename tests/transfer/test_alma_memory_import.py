"""Importing alma-memory databases, written by alma-memory's own storage classes, into a
real langgraph-alma database; then reading them back through `Alma`."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from langgraph_alma.alma import Alma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.errors import AlmaMemorySourceError, TransferError
from langgraph_alma.memory import items as it
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.alma_memory import PROVENANCE, import_alma_memory

try:  # alma-memory (a dev dependency) writes the sources; tests that need it skip without
    import alma.types as am_types
    from alma.learning.decay import MemoryStrength
    from alma.storage.postgresql import PostgreSQLStorage
    from alma.storage.sqlite_local import SQLiteStorage
    from alma.workflow import ArtifactRef, ArtifactType, Checkpoint, WorkflowOutcome, WorkflowResult
except ImportError:
    am_types = None


def _require_alma_memory() -> None:
    if am_types is None:
        pytest.skip("alma-memory is not installed (pip install alma-memory==0.11.0)")


INDEX = {"dims": 256, "embed": HashingEmbeddings(dims=256), "fields": ["text"]}
T0 = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
KINDS = {
    "heuristic": 3,
    "outcome": 4,
    "user_preference": 2,
    "domain_knowledge": 2,
    "anti_pattern": 2,
    "workflow_outcome": 2,
    "artifact_ref": 2,
}


def _day(n: int) -> datetime:
    return T0.replace(day=n)


def populate(storage: object) -> None:
    """Several records of each kind, through alma-memory's own storage API."""
    s = storage
    for i, (cond, strat) in enumerate(
        [
            ("form with required fields", "test the happy path first"),
            ("flaky network calls", "retry once with backoff"),
            ("slow database fixtures", "share one migrated database per session"),
        ]
    ):
        s.save_heuristic(
            am_types.Heuristic(
                id=f"h-{i}",
                agent="helena",
                project_id="shop",
                condition=cond,
                strategy=strat,
                confidence=0.5 + i / 10,
                occurrence_count=10 + i,
                success_count=5 + i,
                last_validated=_day(10 + i),
                created_at=_day(1 + i),
                metadata={"n": i},
            )
        )
    for i in range(4):
        s.save_outcome(
            am_types.Outcome(
                id=f"o-{i}",
                agent="helena" if i < 3 else "victor",
                project_id="shop",
                task_type="forms",
                task_description=f"test the signup form variant {i}",
                success=i % 2 == 0,
                strategy_used="test the happy path first",
                duration_ms=100 * i,
                error_message=None if i % 2 == 0 else "element not found",
                timestamp=_day(5 + i),
            )
        )
    for i, (cat, pref) in enumerate([("style", "no emojis in test names"), ("tone", "brief")]):
        s.save_user_preference(
            am_types.UserPreference(
                id=f"p-{i}",
                user_id="ana",
                category=cat,
                preference=pref,
                source="explicit_instruction",
                confidence=0.9,
                timestamp=_day(7),
            )
        )
    for i, fact in enumerate(["login uses JWT with 24h expiry", "passwords need 12 chars"]):
        s.save_domain_knowledge(
            am_types.DomainKnowledge(
                id=f"k-{i}",
                agent="helena",
                project_id="shop",
                domain="authentication",
                fact=fact,
                source="documentation",
                confidence=0.8,
                last_verified=_day(8),
            )
        )
    for i, pattern in enumerate(["fixed sleep for async waits", "asserting on css classes"]):
        s.save_anti_pattern(
            am_types.AntiPattern(
                id=f"a-{i}",
                agent="helena",
                project_id="shop",
                pattern=pattern,
                why_bad="causes flaky tests",
                better_alternative="explicit waits",
                occurrence_count=3 + i,
                last_seen=_day(9),
                created_at=_day(2),
            )
        )
    for i, result in enumerate([WorkflowResult.SUCCESS, WorkflowResult.FAILURE]):
        s.save_workflow_outcome(
            WorkflowOutcome(
                id=f"w-{i}",
                workflow_id="checkout-tests",
                run_id=f"run-{i}",
                agent="helena",
                project_id="shop",
                result=result,
                summary=f"checkout suite run {i}",
                successful_patterns=["retry flaky steps"],
                failed_patterns=["parallel browsers"] if i else [],
                duration_seconds=2.5,
                node_count=4,
                created_at=_day(11),
            )
        )
    s.save_artifact_link(
        ArtifactRef(
            id="art-0",
            memory_id="o-1",
            artifact_type=ArtifactType.SCREENSHOT,
            storage_url="s3://bucket/o-1.png",
            filename="o-1.png",
            size_bytes=2048,
            checksum="sha-o1",
            created_at=_day(6),
        )
    )
    s.save_artifact_link(
        ArtifactRef(
            id="art-1",
            memory_id="w-1",
            artifact_type=ArtifactType.METRICS,
            storage_url="s3://bucket/w-1.json",
        )
    )
    s.save_artifact_link(  # links a memory that is not in the database
        ArtifactRef(id="art-x", memory_id="gone", storage_url="s3://bucket/x")
    )
    s.save_checkpoint(Checkpoint(id="c-0", run_id="run-0", node_id="plan", state={"a": 1}))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    _require_alma_memory()
    path = tmp_path / "alma.db"
    storage = SQLiteStorage(path)
    populate(storage)
    storage.save_memory_strength(
        MemoryStrength(
            memory_id="h-0",
            memory_type="heuristic",
            created_at=_day(1),
            last_accessed=_day(20),
            access_count=9,
            reinforcement_events=[_day(15), _day(16)],
            explicit_importance=0.9,
        )
    )
    return path


@pytest.fixture(scope="module")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        AlmaStore(p, index=INDEX, admin_url=database.admin_url).setup()  # vector index
        yield p


@pytest.fixture
def alma(pool, tenant) -> Alma:
    return Alma(AlmaStore(pool, index=INDEX, tenant_id=tenant), project_id="shop")


def _all_items(alma: Alma) -> list:
    return alma.store.search((it.ROOT,), limit=1000)


def test_import_keeps_every_kind_with_its_fields(alma: Alma, source: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = import_alma_memory(alma, str(source), progress=lambda d, t: calls.append((d, t)))
    assert report.schema_version == "1.2.0"
    assert {k: report.counts[k] for k in KINDS} == KINDS
    assert report.total == sum(KINDS.values()) and report.usage == 1
    assert report.skipped == {"artifact_links": 1, "checkpoints": 1}
    assert calls[0] == (0, report.total) and calls[-1] == (report.total, report.total)

    found = alma.retrieve("flaky network retry", agent="helena", user_id="ana", top_k=10)
    h = {m.id: m for m in found.heuristics}
    assert set(h) == {"h-0", "h-1", "h-2"}
    assert (h["h-1"].strategy, h["h-1"].occurrence_count, h["h-1"].success_count) == (
        "retry once with backoff",
        11,
        6,
    )
    assert h["h-1"].confidence == pytest.approx(0.6)
    assert (h["h-1"].created_at, h["h-1"].last_validated) == (_day(2), _day(11))
    assert h["h-1"].tenant_id == alma.core.tenant_id and h["h-1"].metadata["n"] == 1
    assert h["h-0"].importance == 0.9 and h["h-0"].reinforcement == 2.0
    o = {m.id: m for m in found.outcomes}
    assert set(o) == {"o-0", "o-1", "o-2"}  # o-3 is victor's
    assert (o["o-1"].success, o["o-1"].error_message, o["o-1"].timestamp) == (
        False,
        "element not found",
        _day(6),
    )
    assert {(p.id, p.preference) for p in found.preferences} == {
        ("p-0", "no emojis in test names"),
        ("p-1", "brief"),
    }
    assert {(k.id, k.domain, k.source) for k in found.domain_knowledge} == {
        ("k-0", "authentication", "documentation"),
        ("k-1", "authentication", "documentation"),
    }
    a = {m.id: m for m in found.anti_patterns}
    assert (a["a-1"].occurrence_count, a["a-1"].last_seen) == (4, _day(9))
    assert a["a-1"].metadata[PROVENANCE]["table"] == "anti_patterns"

    victor = alma.retrieve("signup form", agent="victor")
    assert [m.id for m in victor.outcomes] == ["o-3"]
    flows = alma.retrieve("checkout suite", agent="helena", include_workflow_outcomes=True)
    w = {m.id: m for m in flows.workflow_outcomes}
    assert (w["w-1"].result, w["w-1"].duration_ms, w["w-1"].run_id) == ("failure", 2500, "run-1")
    assert w["w-1"].failed_patterns == ["parallel browsers"]

    [shot] = alma.get_artifacts("o-1")
    assert (shot.storage_url, shot.artifact_type, shot.size_bytes, shot.checksum) == (
        "s3://bucket/o-1.png",
        "screenshot",
        2048,
        "sha-o1",
    )
    assert shot.agent == "helena" and shot.created_at == _day(6)
    [metrics] = alma.get_artifacts("w-1")
    assert metrics.artifact_type == "report"  # alma-memory's "metrics": nearest type we have
    usage = alma.store.get(it.usage_namespace("shop"), "h-0").value
    assert usage["use_count"] >= 9 and usage["reinforcement"] == 2.0


def test_import_is_idempotent_and_leaves_the_source_untouched(alma: Alma, source: Path) -> None:
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    first = import_alma_memory(alma, str(source))
    items = {(i.namespace, i.key): i.value for i in _all_items(alma)}
    second = import_alma_memory(alma, str(source.parent))  # the directory holding alma.db
    assert second.counts == first.counts and second.skipped == first.skipped
    again = {(i.namespace, i.key): i.value for i in _all_items(alma)}
    assert again == items
    assert alma.get_stats()["total"] == first.total - first.counts["artifact_ref"]
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_import_goes_to_the_alma_tenant_only(pool, alma: Alma, source: Path) -> None:
    import_alma_memory(alma, str(source))
    other = Alma(AlmaStore(pool, index=INDEX, tenant_id=f"t-{uuid.uuid4().hex[:10]}"))
    assert other.store.search((it.ROOT,), limit=10) == []


def test_a_sqlite_file_that_is_not_alma_memory_is_refused(alma: Alma, tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE heuristics (id TEXT)")  # one table of the five
        conn.execute("CREATE TABLE notes (id TEXT, body TEXT)")
    with pytest.raises(AlmaMemorySourceError, match="not an alma-memory database") as err:
        import_alma_memory(alma, str(path))
    assert "outcomes" in str(err.value) and "nothing was imported" in str(err.value)
    assert isinstance(err.value, TransferError) and err.value.source == str(path)
    assert _all_items(alma) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"just some text, not a database at all" * 200, "not a SQLite database"), (None, "no such")],
)
def test_missing_or_non_sqlite_files_are_refused(
    alma: Alma, tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "alma.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AlmaMemorySourceError, match=problem):
        import_alma_memory(alma, str(path))
    assert _all_items(alma) == []


def test_an_unknown_schema_version_is_refused(alma: Alma, source: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    shutil.copy(source, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(
            "INSERT INTO _schema_versions (version, applied_at) VALUES (?, ?)",
            ("2.0.0", T0.isoformat()),
        )
    with pytest.raises(AlmaMemorySourceError, match="schema version '2.0.0'"):
        import_alma_memory(alma, str(newer))
    assert _all_items(alma) == []


def test_a_database_from_before_schema_versions_is_read(
    alma: Alma, source: Path, tmp_path: Path
) -> None:
    older = tmp_path / "older.db"
    shutil.copy(source, older)
    with sqlite3.connect(older) as conn:
        conn.execute("DROP TABLE _schema_versions")
    report = import_alma_memory(alma, str(older))
    assert report.schema_version is None and report.total == sum(KINDS.values())


@pytest.fixture
def pg_source(server) -> Iterator[str]:
    """A scratch database holding alma-memory's PostgreSQL tables, written by its
    PostgreSQLStorage; yields its URL."""
    _require_alma_memory()
    admin_url = server[1]
    name = f"alma_memory_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(admin_url)
    storage = PostgreSQLStorage(
        host=params.get("host", "localhost"),
        port=int(params.get("port", 5432)),
        database=name,
        user=params.get("user", "postgres"),
        password=params.get("password") or "''",
        pool_size=2,
        ssl_mode="disable",
        auto_migrate=False,
    )
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        # alma-memory 0.11's migrations fail on its own pool: 1.1.0 indexes dict rows by
        # position, 1.2.0 aborts the transaction altering unprefixed tables. They do run
        # on a plain autocommit connection.
        with psycopg.connect(url, autocommit=True) as conn:
            storage._get_migration_runner().migrate(conn)
        populate_core(storage)
        with psycopg.connect(url, autocommit=True) as conn:  # the columns of its migration
            conn.execute(
                "INSERT INTO alma_workflow_outcomes (id, workflow_id, run_id, success,"
                " duration_ms, node_count, nodes_failed, error_message, timestamp)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                ("pg-w", "payments-flow", "run-7", False, 1500, 3, 1, "rate limited", _day(6)),
            )
            conn.execute(
                "INSERT INTO alma_artifact_links (id, memory_id, memory_type, artifact_id,"
                " artifact_type, storage_path, content_hash, size_bytes)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                ("pg-l", "pg-o", "outcome", "a-1", "log", "r2://logs/pg-o.txt", "c0ffee", 10),
            )
    finally:
        storage.close()
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate_core(storage: object) -> None:
    """The five core kinds (alma-memory's PostgreSQL storage cannot write workflow
    outcomes into the tables its own migration 1.1.0 creates)."""
    storage.save_heuristic(
        am_types.Heuristic(
            id="pg-h",
            agent="helena",
            project_id="shop",
            condition="flaky network calls",
            strategy="retry once with backoff",
            confidence=0.75,
            occurrence_count=8,
            success_count=6,
            last_validated=_day(3),
            created_at=_day(2),
        )
    )
    storage.save_outcome(
        am_types.Outcome(
            id="pg-o",
            agent="helena",
            project_id="shop",
            task_type="api",
            task_description="call the flaky payments api",
            success=True,
            strategy_used="retry once with backoff",
            timestamp=_day(4),
        )
    )
    storage.save_user_preference(
        am_types.UserPreference(
            id="pg-p", user_id="ana", category="style", preference="brief", source="chat"
        )
    )
    storage.save_domain_knowledge(
        am_types.DomainKnowledge(
            id="pg-k",
            agent="helena",
            project_id="shop",
            domain="payments",
            fact="the payments api rate-limits at 10 rps",
            source="docs",
        )
    )
    storage.save_anti_pattern(
        am_types.AntiPattern(
            id="pg-a",
            agent="helena",
            project_id="shop",
            pattern="retry forever",
            why_bad="hammers the api",
            better_alternative="retry once with backoff",
            occurrence_count=2,
            last_seen=_day(5),
        )
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # alma-memory's pool
def test_import_from_alma_memory_postgresql(alma: Alma, pg_source: str) -> None:
    report = import_alma_memory(alma, pg_source)
    assert report.schema_version == "1.2.0"
    assert {k: v for k, v in report.counts.items() if v} == dict.fromkeys(
        [
            "heuristic",
            "outcome",
            "user_preference",
            "domain_knowledge",
            "anti_pattern",
            "workflow_outcome",
            "artifact_ref",
        ],
        1,
    )
    found = alma.retrieve("flaky payments api", agent="helena", user_id="ana")
    [h] = found.heuristics
    assert (h.id, h.confidence, h.occurrence_count, h.created_at) == ("pg-h", 0.75, 8, _day(2))
    assert [o.id for o in found.outcomes] == ["pg-o"] and found.outcomes[0].timestamp == _day(4)
    assert [p.preference for p in found.preferences] == ["brief"]
    assert [k.fact for k in found.domain_knowledge] == ["the payments api rate-limits at 10 rps"]
    assert [a.why_bad for a in found.anti_patterns] == ["hammers the api"]
    tenant_wide = alma.retrieve(
        "rate limited", agent="helena", scope="tenant", include_workflow_outcomes=True
    )
    [w] = tenant_wide.workflow_outcomes  # its PostgreSQL table has no agent column
    assert (w.id, w.result, w.duration_ms, w.run_id, w.agent) == (
        "pg-w",
        "failure",
        1500,
        "run-7",
        None,
    )
    [log] = alma.get_artifacts("pg-o")
    assert (log.storage_url, log.checksum, log.artifact_type) == (
        "r2://logs/pg-o.txt",
        "c0ffee",
        "log",
    )
    again = import_alma_memory(alma, pg_source)
    assert again.counts == report.counts and alma.get_stats()["total"] == 6


def test_a_postgresql_database_without_alma_memory_tables_is_refused(alma: Alma, database) -> None:
    with pytest.raises(AlmaMemorySourceError, match="not an alma-memory database"):
        import_alma_memory(alma, database.admin_url)  # our own schema, not alma-memory's
    assert _all_items(alma) == []


def test_the_alma_command_imports_and_refuses(
    database, pool, tenant: str, source: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ALMA_DATABASE_URL": database.url,
        "ALMA_ADMIN_DATABASE_URL": database.admin_url,
    }
    base = [sys.executable, "-m", "langgraph_alma", "--tenant", tenant, "--project", "shop"]
    done = subprocess.run(
        [*base, "import", "--from", "alma-memory", str(source), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "imported 17 memories" in done.stdout
    assert "not imported: 1 row(s) of checkpoints: alma-memory checkpoints" in done.stdout
    alma = Alma(AlmaStore(pool, index=INDEX, tenant_id=tenant), project_id="shop")
    assert alma.get_stats()["counts"]["heuristic"] == 3
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    refused = subprocess.run(
        [*base, "import", "--from", "alma-memory", str(other), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "not an alma-memory database" in refused.stderr


def test_a_failure_in_a_later_batch_leaves_nothing_written(
    alma: Alma, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches write in one transaction: a memory the store refuses (too large) after a
    batch has gone out rolls every batch back."""
    from langgraph_alma.errors import ValueTooLarge
    from langgraph_alma.transfer.alma_memory import mapping

    _require_alma_memory()
    storage = SQLiteStorage(tmp_path / "alma.db")
    populate(storage)
    storage.save_domain_knowledge(
        am_types.DomainKnowledge(
            id="zz-huge",
            agent="helena",
            project_id="shop",
            domain="forms",
            fact="x" * (1024 * 1024 + 10),  # over the store's 1 MiB value limit
            source="user_stated",
            last_verified=_day(3),
        )
    )
    monkeypatch.setattr(mapping, "BATCH_SIZE", 2)  # the huge one is far from the first batch
    with pytest.raises(ValueTooLarge):
        import_alma_memory(alma, str(tmp_path / "alma.db"))
    assert _all_items(alma) == []
