"""Fixtures for the memory layer: an `Alma` on a real AlmaStore, with a clock the test
controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from langgraph_alma.alma import Alma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.memory import MemoryScope
from langgraph_alma.store import AlmaStore

EMBED = HashingEmbeddings(dims=256)
INDEX = {"dims": 256, "embed": EMBED, "fields": ["text"]}


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture(scope="module")
def _indexed(pool, database) -> None:
    AlmaStore(pool, index=INDEX, admin_url=database.admin_url).setup()  # vector index


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_alma(pool, tenant, clock, _indexed):
    """Build an Alma for this test's tenant: make_alma(project_id=..., scopes=...)."""

    def make(tenant_id: str | None = None, **kwargs) -> Alma:
        store = AlmaStore(pool, index=INDEX, tenant_id=tenant_id or tenant)
        kwargs.setdefault("clock", clock)
        return Alma(store, **kwargs)

    return make


@pytest.fixture
def alma(make_alma) -> Alma:
    return make_alma(
        scopes={
            "helena": MemoryScope(
                agent_name="helena", can_learn=["forms", "testing", "api"], share_with=["victor"]
            ),
            "victor": MemoryScope(agent_name="victor", cannot_learn=["forms"]),
            "junior": MemoryScope(agent_name="junior", inherit_from=["helena"]),
        }
    )
