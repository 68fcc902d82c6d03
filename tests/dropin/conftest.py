"""Fixtures of the drop-in tests: connections and pools opened the way LangGraph's
documentation opens them for PostgresSaver/PostgresStore (`row_factory=dict_row`,
`prepare_threshold=0`), and every other row factory and prepare setting, sync and async,
single connection and pool. The library must read its rows the same way on all of them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row, namedtuple_row, tuple_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.embeddings import HashingEmbeddings
from tests.conftest import _with_dbname

ROW_FACTORIES = {"dict_row": dict_row, "namedtuple_row": namedtuple_row, "tuple_row": tuple_row}
DIMS = 64
EMBED = HashingEmbeddings(dims=DIMS)
# "exact": no HNSW index DDL, so the application role may run setup() too.
INDEX: dict[str, Any] = {"dims": DIMS, "embed": EMBED, "fields": ["text"], "ann": "exact"}


@pytest.fixture(
    params=[
        pytest.param((name, threshold), id=f"{name}-prepare{threshold}")
        for name in ROW_FACTORIES
        for threshold in (0, None)
    ]
)
def caller_kwargs(request) -> dict[str, Any]:
    """Connection keyword arguments a LangGraph user might have (autocommit, as
    PostgresSaver requires too)."""
    name, threshold = request.param
    return {"autocommit": True, "prepare_threshold": threshold, "row_factory": ROW_FACTORIES[name]}


@pytest.fixture(params=["connection", "pool"])
def kind(request) -> str:
    """A single connection, or a pool whose connections have the caller's kwargs."""
    return request.param


@contextmanager
def open_sync(url: str, kind: str, kwargs: dict[str, Any]) -> Iterator[Any]:
    """A `psycopg.Connection` or a `ConnectionPool(kwargs=kwargs)` on `url`."""
    if kind == "connection":
        with psycopg.connect(url, **kwargs) as conn:
            yield conn
    else:
        with ConnectionPool(url, min_size=1, max_size=3, kwargs=kwargs) as pool:
            yield pool


@asynccontextmanager
async def open_async(url: str, kind: str, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
    """Async `open_sync`."""
    if kind == "connection":
        async with await psycopg.AsyncConnection.connect(url, **kwargs) as conn:
            yield conn
    else:
        async with AsyncConnectionPool(
            url, min_size=1, max_size=3, kwargs=kwargs, open=False
        ) as pool:
            yield pool


@contextmanager
def one_connection(source: Any) -> Iterator[psycopg.Connection[Any]]:
    """The connection itself, or one borrowed from the pool."""
    if isinstance(source, ConnectionPool):
        with source.connection() as conn:
            yield conn
    else:
        yield source


@asynccontextmanager
async def aone_connection(source: Any) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async `one_connection`."""
    if isinstance(source, AsyncConnectionPool):
        async with source.connection() as conn:
            yield conn
    else:
        yield source


@pytest.fixture
def empty_database(server) -> Iterator[str]:
    """The admin URL of a database with nothing in it (no migrations applied)."""
    name = f"alma_dropin_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server[1], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_dbname(server[1], name)
    with psycopg.connect(server[1], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
