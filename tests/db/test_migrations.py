"""Migrations: ordered, recorded, idempotent, safe to race, fine inside a transaction."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg

from langgraph_alma.migrations import migrate, migrations, status


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'alma_%'"
        ).fetchall()
    return {r[0] for r in rows}


def test_versions_are_ordered_without_gaps() -> None:
    versions = [m.version for m in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_fresh_database_is_fully_migrated_and_rerun_is_a_noop(fresh_database) -> None:
    with psycopg.connect(fresh_database.admin_url, autocommit=True) as conn:
        st = status(conn)
        assert st.applied == [m.version for m in migrations()] and st.pending == []
        assert migrate(conn) == []
        count = conn.execute("SELECT count(*) FROM alma_migrations").fetchone()[0]
    assert count == len(migrations())
    assert {"alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes"} <= _tables(
        fresh_database.admin_url
    )


def _empty_database(server) -> tuple[str, str]:
    import uuid

    from tests.conftest import _with_dbname

    name = f"alma_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server[1], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, _with_dbname(server[1], name)


def _drop(server, name: str) -> None:
    with psycopg.connect(server[1], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_migrations_apply_each_version_once(server) -> None:
    name, url = _empty_database(server)
    try:

        def run() -> list[int]:
            with psycopg.connect(url, autocommit=True) as conn:
                return migrate(conn)

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: run(), range(4)))
        applied = [v for r in results for v in r]
        assert sorted(applied) == [m.version for m in migrations()]  # each exactly once
    finally:
        _drop(server, name)


def test_migrate_inside_callers_open_transaction(server) -> None:
    name, url = _empty_database(server)
    try:
        with psycopg.connect(url) as conn:  # not autocommit: a transaction is open
            conn.execute("SELECT 1")
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            assert migrate(conn) == [m.version for m in migrations()]
            conn.commit()
        assert "alma_checkpoints" in _tables(url)
    finally:
        _drop(server, name)


def test_failed_migration_leaves_nothing(server, monkeypatch) -> None:
    from langgraph_alma import migrations as mig
    from langgraph_alma.errors import MigrationError

    name, url = _empty_database(server)
    broken = (*mig.migrations(), mig.Migration(len(mig.migrations()) + 1, "broken", "SELEC 1"))
    monkeypatch.setattr(mig, "migrations", lambda: broken)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                migrate(conn)
            except MigrationError as exc:
                assert "broken" in str(exc)
            else:
                raise AssertionError("a broken migration must raise MigrationError")
        assert _tables(url) == set()  # all-or-nothing: earlier versions rolled back too
    finally:
        _drop(server, name)


def test_cli_status_and_up(database) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "langgraph_alma.migrations", "status", "--url", database.admin_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "0001  checkpoints" in out and "applied" in out
    out = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "migrate", "up", "--url", database.admin_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "up to date" in out
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "langgraph_alma.migrations",
            "up",
            "--url",
            "postgresql://nobody@/nowhere?host=/nonexistent",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_saver_setup_migrates_an_empty_database(server) -> None:
    from langgraph_alma import AlmaSaver

    name, url = _empty_database(server)
    try:
        with AlmaSaver.from_conn_string(url) as saver:  # connections prepare statements
            saver.setup()
            saver.setup()
        assert "alma_checkpoints" in _tables(url)
    finally:
        _drop(server, name)
