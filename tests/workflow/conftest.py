"""Fixtures for the workflow layer: `Alma` instances on a real PostgreSQL (with a saver
on the same pool), and a helper to run worker processes against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from langgraph_alma.alma import Alma
from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.memory import MemoryScope
from langgraph_alma.store import AlmaStore

EMBED = HashingEmbeddings(dims=256)
INDEX = {"dims": 256, "embed": EMBED, "fields": ["text"]}
WORKER = Path(__file__).with_name("_worker.py")
ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=6, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture(scope="module")
def _indexed(pool, database) -> None:
    AlmaStore(pool, index=INDEX, admin_url=database.admin_url).setup()  # vector index


@pytest.fixture
def make_alma(pool, tenant, _indexed):
    """make_alma(tenant_id=None, **Alma kwargs): an Alma with a saver, on the test pool."""

    def make(tenant_id: str | None = None, **kwargs) -> Alma:
        t = tenant_id or tenant
        store = AlmaStore(pool, index=INDEX, tenant_id=t)
        return Alma(store, AlmaSaver(pool, tenant_id=t), **kwargs)

    return make


@pytest.fixture
def alma(make_alma) -> Alma:
    return make_alma(
        scopes={"helena": MemoryScope(agent_name="helena", min_occurrences_for_heuristic=2)}
    )


def worker(*args: str, **popen: object) -> subprocess.Popen[str]:
    """Start `_worker.py` with the test database in its environment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **popen,
    )
