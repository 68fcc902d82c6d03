"""Test fixtures: one real PostgreSQL per test session.

By default an embedded PostgreSQL 18 + pgvector is started in a temporary directory; with
`ALMA_DATABASE_URL` set, that server is used instead. Each session gets its own database
with the migrations applied; tests isolate themselves with unique thread and tenant ids,
and `fresh_database` gives a test an empty database of its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from langgraph_alma.migrations import migrate


@dataclass(frozen=True)
class Database:
    name: str
    url: str  # application role (row-level security applies)
    admin_url: str  # migration role


def _with_dbname(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[str, str]]:
    """(app_url, admin_url) of the server under test."""
    external = os.environ.get("ALMA_DATABASE_URL")
    if external:
        yield external, os.environ.get("ALMA_ADMIN_DATABASE_URL", external)
        return
    from langgraph_alma.db.embedded import start_embedded

    # Not pytest's tmp_path: concurrent pytest sessions prune each other's basetemp.
    root = Path(tempfile.mkdtemp(prefix="alma-test-"))
    embedded = start_embedded(root / "pgdata")
    yield embedded.app_url, embedded.admin_url
    embedded.stop()
    shutil.rmtree(root, ignore_errors=True)


def _create_database(server: tuple[str, str]) -> Database:
    app_url, admin_url = server
    name = f"alma_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(name, _with_dbname(app_url, name), _with_dbname(admin_url, name))
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        migrate(conn)
    return db


def _drop_database(server: tuple[str, str], db: Database) -> None:
    with psycopg.connect(server[1], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database(server: tuple[str, str]) -> Iterator[Database]:
    """The session's migrated database."""
    db = _create_database(server)
    old = {k: os.environ.get(k) for k in ("ALMA_DATABASE_URL", "ALMA_ADMIN_DATABASE_URL")}
    # Code under test that resolves its own URL (subprocesses, demo) uses this database.
    os.environ["ALMA_DATABASE_URL"] = db.url
    os.environ["ALMA_ADMIN_DATABASE_URL"] = db.admin_url
    yield db
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _drop_database(server, db)


@pytest.fixture
def fresh_database(server: tuple[str, str]) -> Iterator[Database]:
    """An empty, migrated database for one test."""
    db = _create_database(server)
    yield db
    _drop_database(server, db)


@pytest.fixture
def tenant() -> str:
    """A tenant id no other test uses."""
    return f"t-{uuid.uuid4().hex[:10]}"
