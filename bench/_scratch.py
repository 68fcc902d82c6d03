"""A scratch database for a benchmark: new, migrated, dropped on exit.

>>> with scratch_database(args.admin_url, "alma_rbench") as url:   # doctest: +SKIP
...     run(url)
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from langgraph_alma.migrations import migrate


def with_db(url: str, name: str) -> str:
    """`url` naming the database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def add_server_args(parser: argparse.ArgumentParser) -> None:
    """`--admin-url` and `--app-url`, what `bench_server` takes."""
    parser.add_argument("--admin-url", help="superuser URL; default: a temp embedded server")
    parser.add_argument("--app-url", help="URL of the alma_app role (with --admin-url)")


@contextmanager
def bench_server(admin_url: str | None, app_url: str | None = None) -> Iterator[tuple[str, str]]:
    """(admin URL, application URL) of the server a benchmark runs on: `admin_url` (a
    superuser's) and `app_url` (the `alma_app` role's, else the admin's) when given, else
    an embedded server started in a temporary directory and stopped on exit."""
    if admin_url is not None:
        yield admin_url, app_url or admin_url
        return
    from langgraph_alma.db.embedded import start_embedded

    server = start_embedded(Path(tempfile.mkdtemp(prefix="alma-bench-")) / "pgdata")
    try:
        yield server.admin_url, server.app_url
    finally:
        server.stop()


@contextmanager
def scratch_database(admin_url: str | None, prefix: str) -> Iterator[str]:
    """The URL of a new, migrated database `prefix_<random>` on the server of
    `admin_url` (a superuser's), or on an embedded server started in a temporary
    directory when None; the database is dropped, and that server stopped, on exit."""
    server = None
    if admin_url is None:
        from langgraph_alma.db.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix=f"{prefix}-")) / "pgdata")
        admin_url = server.admin_url
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = with_db(admin_url, name)
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
            yield url
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        if server is not None:
            server.stop()
