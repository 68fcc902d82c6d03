"""Fixtures of the store tests: stores on the session database, a deterministic embedder."""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs

DIMS = 64
# A toy "model": synonyms share a concept; codes with digits mean nothing to it.
SYNONYMS = {"automobile": "car", "vehicle": "car", "auto": "car", "feline": "cat", "kitten": "cat"}
STOPWORDS = {"the", "a", "an", "my", "of", "for", "about", "is", "and", "to", "in", "on"}


def fake_embed_one(text: str, dims: int = DIMS) -> list[float]:
    """Words hashed into `dims` buckets after synonym folding; never the zero vector."""
    vec = [0.0] * dims
    vec[0] = 0.05
    for word in re.findall(r"\w+", text.lower()):
        if word in STOPWORDS or any(ch.isdigit() for ch in word):
            continue
        concept = SYNONYMS.get(word, word)
        h = int.from_bytes(hashlib.blake2b(concept.encode(), digest_size=8).digest(), "big")
        vec[1 + h % (dims - 1)] += 1.0
    norm = math.sqrt(sum(x * x for x in vec))
    return [x / norm for x in vec]


def fake_embed(texts: list[str]) -> list[list[float]]:
    return [fake_embed_one(t) for t in texts]


async def afake_embed(texts: list[str]) -> list[list[float]]:
    return fake_embed(texts)


@pytest.fixture
def ns() -> tuple[str, ...]:
    """A namespace root no other test uses."""
    return ("t", uuid.uuid4().hex[:8])


@pytest.fixture(scope="session")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture(scope="session")
def indexed_setup(database) -> None:
    """The HNSW index for DIMS, created once as the admin role (at once, however few
    vectors: `store_ann_build_min` 0)."""
    index = {"dims": DIMS, "embed": fake_embed}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALMA_STORE_ANN_BUILD_MIN", "0")
        with AlmaStore.from_conn_string(
            database.url, index=index, admin_url=database.admin_url
        ) as s:
            s.setup()


@pytest.fixture
def store(pool, tenant) -> AlmaStore:
    return AlmaStore(pool, tenant_id=tenant)


@pytest.fixture
def istore(pool, tenant, indexed_setup) -> AlmaStore:
    """A store with the fake embedder over the `text` field."""
    return AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    )


@pytest.fixture
async def astore(database, tenant, indexed_setup) -> AsyncIterator[AsyncAlmaStore]:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as p:
        yield AsyncAlmaStore(
            p, tenant_id=tenant, index={"dims": DIMS, "embed": afake_embed, "fields": ["text"]}
        )


@asynccontextmanager
async def row_held(url: str, tenant: str, key: str) -> AsyncIterator[None]:
    """The item `key` of `tenant` locked (FOR UPDATE) by another transaction for the
    block: a store write of it waits, then fails past its lock_timeout."""
    async with (
        await psycopg.AsyncConnection.connect(url, **connection_kwargs()) as holder,
        holder.transaction(),
    ):
        await holder.execute("SELECT set_config('alma.tenant_id', %s, true)", (tenant,))
        await holder.execute(
            "SELECT 1 FROM alma_store WHERE tenant_id = %s AND key = %s FOR UPDATE",
            (tenant, key),
        )
        yield


def vector_counts(database, tenant: str) -> tuple[int, int]:
    """(indexed rows, backlog rows) of `tenant`'s vectors."""
    with psycopg.connect(database.admin_url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE indexed), count(*) FILTER (WHERE NOT indexed)"
            " FROM alma_store_vectors WHERE tenant_id = %s",
            (tenant,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
