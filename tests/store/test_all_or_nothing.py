"""A batch is all or nothing (issue 11, item 3): every key, namespace label and value is
checked before anything is sent, the writes of a batch are one transaction, and a
database error reaches the caller as a named `AlmaError`, never a raw psycopg error."""

from __future__ import annotations

import math

import psycopg
import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import (
    AlmaError,
    ConfigError,
    InvalidStoreKey,
    InvalidValue,
    StoreBatchFailed,
)

from .conftest import DIMS, fake_embed


def _bad_batches(ns):
    return {
        "nul in a key": [PutOp(ns, "k\x00", {"v": 2})],
        "lone surrogate in a key": [PutOp(ns, "k\udcff", {"v": 2})],
        "lone surrogate in a label": [PutOp((*ns, "l\udcff"), "k", {"v": 2})],
        "nul in a label": [PutOp((*ns, "l\x00"), "k", {"v": 2})],
        "lone surrogate in a value": [PutOp(ns, "k", {"v": "x\ud800y"})],
        "lone surrogate in a value's key": [PutOp(ns, "k", {"x\udfff": 1})],
        "huge key": [PutOp(ns, "k" * 5000, {"v": 2})],
    }


CASES = list(_bad_batches(("x",)))


@pytest.mark.parametrize("case", CASES)
def test_a_bad_op_leaves_the_batch_unwritten(store: AlmaStore, ns, case) -> None:
    store.put(ns, "old", {"v": 0})
    ops = [PutOp(ns, "old", None), PutOp(ns, "new", {"v": 1}), *_bad_batches(ns)[case]]
    with pytest.raises(AlmaError) as info:
        store.batch(ops)
    assert isinstance(info.value, InvalidStoreKey | InvalidValue)
    assert "op 2" in str(info.value)  # which op
    assert store.get(ns, "old").value == {"v": 0}
    assert store.get(ns, "new") is None


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_op_leaves_the_async_batch_unwritten(astore: AsyncAlmaStore, ns, case) -> None:
    await astore.aput(ns, "old", {"v": 0})
    ops = [PutOp(ns, "old", None), PutOp(ns, "new", {"v": 1}), *_bad_batches(ns)[case]]
    with pytest.raises((InvalidStoreKey, InvalidValue)):
        await astore.abatch(ops)
    assert (await astore.aget(ns, "old")).value == {"v": 0}
    assert await astore.aget(ns, "new") is None


@pytest.mark.parametrize(
    "op",
    [
        GetOp(("x",), "k\x00"),
        GetOp(("x",), "k\udcff"),
        SearchOp(("x", "l\udcff")),
        SearchOp(("x",), filter={"v": "a\x00b"}),
        SearchOp(("x",), filter={"v": {"$in": ["ok", "b\udcff"]}}),
        SearchOp(("x",), query="tea \udcff"),
    ],
)
def test_bad_reads_raise_named_errors_before_io(store: AlmaStore, op) -> None:
    with pytest.raises(AlmaError):
        store.batch([op])


def test_a_database_error_is_named_and_rolls_back(database, tenant, ns) -> None:
    """A row held by another transaction times the batch out: a named error, and the
    batch's other writes are not kept."""
    kwargs = {**connection_kwargs(), "options": "-c lock_timeout=200"}
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=kwargs) as pool:
        store = AlmaStore(pool, tenant_id=tenant)
        store.batch([PutOp(ns, "old", {"v": 0}), PutOp(ns, "held", {"v": 0})])
        ops = [PutOp(ns, "old", None), PutOp(ns, "new", {"v": 1}), PutOp(ns, "held", {"v": 2})]
        with (
            psycopg.connect(database.url, **connection_kwargs()) as holder,
            holder.transaction(),
        ):
            holder.execute("SELECT set_config('alma.tenant_id', %s, true)", (tenant,))
            holder.execute(
                "SELECT 1 FROM alma_store WHERE tenant_id = %s AND key = 'held' FOR UPDATE",
                (tenant,),
            )
            with pytest.raises(StoreBatchFailed) as info:
                store.batch(ops)
        assert isinstance(info.value.__cause__, psycopg.errors.LockNotAvailable)
        assert "lock" in str(info.value)
        assert store.get(ns, "old").value == {"v": 0}
        assert store.get(ns, "new") is None
        assert store.get(ns, "held").value == {"v": 0}
        # the connection went back to the pool clean: the store keeps working
        store.put(ns, "after", {"v": 3})
        assert store.get(ns, "after").value == {"v": 3}


async def test_an_async_database_error_is_named(database, tenant, ns) -> None:
    kwargs = {**connection_kwargs(), "options": "-c statement_timeout=1"}
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=1, kwargs=kwargs, open=False
    ) as pool:
        store = AsyncAlmaStore(pool, tenant_id=tenant)
        with pytest.raises(StoreBatchFailed) as info:
            await store.abatch(
                [PutOp(ns, f"k{i}", {"v": "x" * 200}) for i in range(3000)]
                + [SearchOp(ns, filter={"v": {"$ne": "y"}}, limit=1000)]
            )
        assert isinstance(info.value.__cause__, psycopg.errors.QueryCanceled)


def _poisoned(texts: list[str]) -> list[list[float]]:
    vectors = fake_embed(texts)
    return [[math.nan] * DIMS if "poison" in t else v for t, v in zip(texts, vectors, strict=True)]


def test_a_bad_embedding_is_refused_before_anything_is_sent(
    pool, tenant, ns, indexed_setup
) -> None:
    store = AlmaStore(pool, tenant_id=tenant, index={"dims": DIMS, "embed": _poisoned})
    store.put(ns, "old", {"text": "fine"})
    ops = [
        PutOp(ns, "old", None),
        PutOp(ns, "new", {"text": "ok"}),
        PutOp(ns, "x", {"text": "poison"}),
    ]
    with pytest.raises(ConfigError, match="NaN"):
        store.batch(ops)
    assert store.get(ns, "old").value == {"text": "fine"}
    assert store.get(ns, "new") is None
    with pytest.raises(ConfigError, match="NaN"):
        store.search(ns, query="poison")
