"""A batch's reads do not wait behind another transaction's writes (issue 11, speed).

A batch that reads and writes, on a connection of its own, sends its reads (and their
best-effort TTL refreshes) in a round trip of their own, then its writes as one
transaction that takes its keys' slots. So a writer holding a slot the batch needs delays
only the batch's writes: its reads are done and committed meanwhile. (Before, the batch
took its slots first and every read of it waited too, which serialised the rounds an
async store gathers whenever two of them wrote keys of one slot.) The writes stay all or
nothing, and a failed read sends no write at all.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import StoreBatchFailed
from langgraph_alma.store import _sql


def _expires(database, tenant: str, ns: tuple[str, ...], key: str):
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT expires_at FROM alma_store WHERE tenant_id = %s AND ns_path = %s AND key = %s",
            (tenant, ".".join(ns), key),
        ).fetchone()
    return row[0] if row else None


@pytest.mark.timeout(60)
def test_reads_of_a_batch_do_not_wait_for_its_write_slots(database, store, tenant, ns) -> None:
    store.put(ns, "x", {"text": "read me"}, ttl=1.0)
    before = _expires(database, tenant, ns, "x")
    time.sleep(0.05)  # a refresh moves expires_at past `before`
    slot = _sql.KEY_SLOT.format(ns="%(ns)s", key="%(key)s")
    holder = psycopg.connect(database.admin_url, **connection_kwargs())
    done = threading.Event()
    errors: list[BaseException] = []

    def batch() -> None:
        try:
            store.batch([GetOp(ns, "x", refresh_ttl=True), PutOp(ns, "k", {"text": "new"})])
        except BaseException as exc:  # noqa: BLE001 - the test's finding
            errors.append(exc)
        finally:
            done.set()

    try:
        with holder.transaction():  # another writer holds the slot of "k"
            holder.execute(
                f"SELECT pg_advisory_xact_lock({_sql.TENANT_SLOTS}, {slot})",
                {"tenant": tenant, "ns": ".".join(ns), "key": "k"},
            )
            worker = threading.Thread(target=batch)
            worker.start()
            deadline = time.monotonic() + 10
            refreshed = False
            while time.monotonic() < deadline and not refreshed:
                refreshed = _expires(database, tenant, ns, "x") > before
                time.sleep(0.02)
            assert not done.is_set(), "the batch's write did not wait for the slot"
            assert refreshed, "the batch's read waited behind the other writer's slot"
            assert store.get(ns, "k") is None  # nothing of the write is visible yet
        worker.join(10)
    finally:
        holder.close()
    assert not errors
    assert store.get(ns, "k").value == {"text": "new"}


def test_a_failed_read_sends_no_write(store, ns, monkeypatch) -> None:
    """The reads run first; if they fail, the batch's writes are never sent."""
    store.put(ns, "a", {"text": "old"})
    bad = SearchOp(ns, {"n": {"$gt": 1}}, limit=5)
    real = store._core._search

    def broken(tenant, op, vectors):  # a read the server refuses
        sql = real(tenant, op, vectors)
        return type(sql)("SELECT 1/0", None, fetch=True)

    monkeypatch.setattr(store._core, "_search", broken)
    with pytest.raises(StoreBatchFailed):
        store.batch([bad, PutOp(ns, "a", {"text": "new"}), PutOp(ns, "b", {"text": "b"})])
    monkeypatch.undo()
    assert store.get(ns, "a").value == {"text": "old"}
    assert store.get(ns, "b") is None


def test_writes_of_a_reading_batch_stay_all_or_nothing(store, ns, monkeypatch) -> None:
    """A write the server refuses rolls back every write of the batch (a delete sent
    before it included), after the batch's reads succeeded in their own round trip."""
    store.put(ns, "a", {"text": "old"})
    monkeypatch.setattr(_sql, "UPSERT", "SELECT 1/0 WHERE %(tenant)s IS NOT NULL")
    with pytest.raises(StoreBatchFailed):
        store.batch([GetOp(ns, "a"), PutOp(ns, "a", None), PutOp(ns, "b", {"text": "b"})])
    monkeypatch.undo()
    assert store.get(ns, "a").value == {"text": "old"}
    assert store.get(ns, "b") is None
