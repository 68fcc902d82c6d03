"""Threads writing at once on one AlmaStore share transactions (issue 11: the store under
load), as group commit works: real threads on a real pool, each with its own result or
its own error, never two tenants in one transaction, no deadlock under a mixed load."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypedDict

import psycopg
import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, GetOp, PutOp
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import InvalidValue, StoreBatchFailed, StoreBatchInterrupted

from .conftest import DIMS, fake_embed

THREADS = 8


@pytest.fixture
def pool(database) -> Iterator[ConnectionPool]:
    kwargs = {**connection_kwargs(), "options": "-c lock_timeout=500"}
    with ConnectionPool(database.url, min_size=2, max_size=THREADS, kwargs=kwargs) as p:
        yield p


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


class Batches:
    """A spy on the batches a store's gatherer runs: (tenant, ops) of each, in order. With
    `hold=True` its first batch waits in the spy until `release()` (threads that write
    meanwhile queue for the next)."""

    def __init__(self, store: AlmaStore, *, hold: bool = False) -> None:
        self.runs: list[tuple[str, list[Any]]] = []
        self.entered = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self._gatherer = store._gatherer
        self._run = store._gatherer._run
        self.raise_in_next: BaseException | None = None
        store._gatherer._run = self  # type: ignore[method-assign]

    def __call__(self, tenant: str, checked: list[Any]) -> list[Any]:
        self.runs.append((tenant, [c.op for c in checked]))
        self.entered.set()
        assert self.released.wait(10)
        if self.raise_in_next is not None:
            exc, self.raise_in_next = self.raise_in_next, None
            raise exc
        return self._run(tenant, checked)

    def queued(self, tenant: str, lane: str = "writes") -> int:
        return len(self._gatherer._lanes.get((tenant, lane), []))

    def release(self) -> None:
        self.released.set()


def join(threads: list[threading.Thread], seconds: float = 60.0) -> None:
    """Wait for `threads` (daemons: a stuck one fails the test, and the run ends)."""
    end = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a thread is stuck"


def in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in a thread of its own; their results or exceptions, in order."""
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            out[i] = calls[i]()
        except BaseException as exc:  # the test looks at it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    join(threads)
    return out


def held_round(
    store: AlmaStore, spy: Batches, tenant: str, first: Callable[[], Any],
    others: list[Callable[[], Any]], lane: str = "writes",
) -> list[Any]:  # fmt: skip
    """`first` leads a batch that is held until every one of `others` (each in a thread,
    started one after another) queued behind it, so they all share the next batch."""
    results: list[Any] = [None] * (1 + len(others))

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            results[i] = call()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(0, first), daemon=True)]
    threads[0].start()
    assert spy.entered.wait(10)
    for i, call in enumerate(others, 1):
        threads.append(t := threading.Thread(target=run, args=(i, call), daemon=True))
        t.start()
        wait_for(lambda i=i: spy.queued(tenant, lane) == i, f"op {i} to queue")  # type: ignore[misc]
    spy.release()
    join(threads)
    return results


def xmins(database, tenant: str, ns: tuple[str, ...]) -> dict[str, str]:
    """key -> the transaction that wrote its row (its xmin), read as the admin."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT key, xmin::text FROM alma_store WHERE tenant_id = %s AND ns_path = %s",
            (tenant, ".".join(ns)),
        ).fetchall()
    return dict(rows)


def test_threads_putting_at_once_share_one_transaction(pool, tenant, ns, database) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store, hold=True)
    others = [lambda i=i: store.put(ns, f"k{i}", {"i": i}) for i in range(1, 12)]
    results = held_round(store, spy, tenant, lambda: store.put(ns, "k0", {"i": 0}), others)
    assert results == [None] * 12
    assert [len(ops) for _, ops in spy.runs] == [1, 11]  # the lead's own, then all the rest
    written = xmins(database, tenant, ns)
    assert len(written) == 12
    assert len({written[f"k{i}"] for i in range(1, 12)}) == 1  # one transaction, one commit
    assert written["k0"] != written["k1"]
    for i in range(12):
        item = store.get(ns, f"k{i}")
        assert item is not None and item.value == {"i": i}


def test_many_threads_share_transactions_without_help(pool, tenant, ns, database) -> None:
    """No spy holding anything: 8 threads x 40 puts, as they come."""
    store = AlmaStore(pool, tenant_id=tenant)
    start = threading.Barrier(THREADS)

    def writer(t: int) -> None:
        start.wait()
        for n in range(40):
            store.put(ns, f"t{t}-{n}", {"t": t, "n": n})

    assert in_threads([lambda t=t: writer(t) for t in range(THREADS)]) == [None] * THREADS
    written = xmins(database, tenant, ns)
    assert len(written) == THREADS * 40
    transactions = len(set(written.values()))
    assert transactions == store._gatherer.batches
    assert transactions < THREADS * 40 * 0.8, f"{transactions} transactions for 320 puts"
    found = store.search(ns, limit=1000)
    assert {(i.value["t"], i.value["n"]) for i in found} == {
        (t, n) for t in range(THREADS) for n in range(40)
    }


def test_a_lone_thread_runs_at_once_and_alone(pool, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store)
    for i in range(3):
        store.put(ns, f"k{i}", {"i": i})
    assert [len(ops) for _, ops in spy.runs] == [1, 1, 1]
    assert store._gatherer._lanes == {}  # nothing left waiting, nobody leading


def test_the_last_put_of_a_key_wins_in_a_shared_batch(pool, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store, hold=True)
    others = [lambda n=n: store.put(ns, "same", {"n": n}) for n in range(1, 8)]
    held_round(store, spy, tenant, lambda: store.put(ns, "other", {}), others)
    assert [len(ops) for _, ops in spy.runs] == [1, 7]
    item = store.get(ns, "same")
    assert item is not None and item.value == {"n": 7}  # queued last, written last


def test_gets_of_threads_share_one_statement(pool, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    store.batch([PutOp(ns, f"k{i}", {"i": i}) for i in range(6)])
    spy = Batches(store, hold=True)
    others = [lambda i=i: store.get(ns, f"k{i % 6}") for i in range(1, 10)]
    results = held_round(store, spy, tenant, lambda: store.get(ns, "k0"), others, "reads")
    assert [len(ops) for _, ops in spy.runs] == [1, 9]
    assert all(isinstance(op, GetOp) for op in spy.runs[1][1])
    assert [r.value for r in results] == [{"i": i % 6} for i in range(10)]
    results[1].value["i"] = "mine"  # k1, asked twice in one batch: each has its own
    assert results[7].value == {"i": 1}


def test_reads_of_threads_share_a_batch_and_query_searches_go_alone(
    pool, tenant, ns, indexed_setup
) -> None:
    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    )
    store.batch([PutOp(ns, f"k{i}", {"text": f"note {i} about cars", "i": i}) for i in range(6)])
    spy = Batches(store, hold=True)
    others: list[Callable[[], Any]] = []
    for i in range(1, 7):
        others.append(lambda i=i: store.get(ns, f"k{i % 6}"))
        others.append(lambda i=i: store.search(ns, filter={"i": i % 6}))
    results = held_round(store, spy, tenant, lambda: store.get(ns, "k0"), others, "reads")
    assert [len(ops) for _, ops in spy.runs] == [1, 12]
    for n, result in enumerate(results[1:]):
        i = n // 2 + 1
        got = result if n % 2 == 0 else result[0]
        assert got.key == f"k{i % 6}" and got.value["i"] == i % 6
        assert n % 2 == 0 or len(result) == 1

    # query searches go alone, side by side (most of their cost is the server's)
    spy = Batches(store)
    results = in_threads(
        [lambda i=i: store.search(ns, query=f"note {i}", limit=2) for i in range(THREADS)]
    )
    assert [len(r) for r in results] == [2] * THREADS
    assert spy.runs == []


def test_an_embedder_that_uses_the_store_does_not_wait_for_itself(
    pool, tenant, ns, indexed_setup
) -> None:
    """The thread leading a batch of writes embeds its texts; an embedder that caches in
    the same store writes from inside that batch: its write goes alone, at once."""
    holder: list[AlmaStore] = []

    def caching_embed(texts: list[str]) -> list[list[float]]:
        for text in texts:
            holder[0].put((*ns, "cache"), str(abs(hash(text))), {"text": text}, index=False)
            holder[0].get((*ns, "cache"), str(abs(hash(text))))
        return fake_embed(texts)

    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": caching_embed, "fields": ["text"]}
    )
    holder.append(store)
    results = in_threads(
        [lambda i=i: store.put(ns, f"k{i}", {"text": f"note {i}"}) for i in range(THREADS)]
    )
    assert results == [None] * THREADS
    assert len(store.search((*ns, "cache"), limit=100)) == THREADS
    assert len(store.search(ns, limit=100)) == 2 * THREADS  # the items and their cache


@pytest.fixture
def held_row(database) -> Iterator[Callable[[str, tuple[str, ...], str], None]]:
    """Locks an item's row in another transaction (FOR UPDATE) until the test ends: a
    store write of it waits, then fails past the pool's lock_timeout."""
    holder = psycopg.connect(database.url, **connection_kwargs())
    holder.autocommit = False

    def hold(tenant: str, ns: tuple[str, ...], key: str) -> None:
        holder.execute("SELECT set_config('alma.tenant_id', %s, true)", (tenant,))
        row = holder.execute(
            "SELECT 1 FROM alma_store WHERE tenant_id = %s AND ns_path = %s AND key = %s "
            "FOR UPDATE",
            (tenant, ".".join(ns), key),
        ).fetchone()
        assert row is not None

    yield hold
    holder.rollback()
    holder.close()


def test_a_failing_write_fails_its_own_thread_only(pool, tenant, ns, held_row) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    store.put(ns, "locked", {"v": "old"})
    held_row(tenant, ns, "locked")
    spy = Batches(store, hold=True)
    others = [lambda i=i: store.put(ns, f"k{i}", {"i": i}) for i in range(1, 4)]
    others.insert(1, lambda: store.put(ns, "locked", {"v": "new"}))
    results = held_round(store, spy, tenant, lambda: store.put(ns, "k0", {"i": 0}), others)
    assert isinstance(results[2], StoreBatchFailed)  # the culprit
    assert [r for i, r in enumerate(results) if i != 2] == [None] * 4
    # the shared batch failed whole, then each op ran alone, in arrival order
    assert [len(ops) for _, ops in spy.runs] == [1, 4, 1, 1, 1, 1]
    for i in range(4):
        item = store.get(ns, f"k{i}")
        assert item is not None and item.value == {"i": i}
    assert store._gatherer._lanes == {}


def test_the_culprit_leaves_nothing_written(pool, tenant, ns, held_row) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    store.put(ns, "locked", {"v": "old"})
    held_row(tenant, ns, "locked")
    spy = Batches(store, hold=True)
    others = [
        lambda: store.put(ns, "locked", {"v": "new"}),
        lambda: store.delete(ns, "locked"),
        lambda: store.put(ns, "fine", {"v": 1}),
    ]
    results = held_round(store, spy, tenant, lambda: store.put(ns, "lead", {}), others)
    assert [type(r) for r in results] == [type(None), StoreBatchFailed, StoreBatchFailed,
                                          type(None)]  # fmt: skip
    item = store.get(ns, "locked")  # a read does not wait for the row lock
    assert item is not None and item.value == {"v": "old"}
    assert store.get(ns, "fine") is not None


def test_an_interrupted_leader_fails_its_batch_only(pool, tenant, ns) -> None:
    """The thread leading a shared batch is interrupted: the others learn it (their ops
    may or may not be stored), never as their own KeyboardInterrupt; the lane goes on."""
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store, hold=True)
    others = [lambda i=i: store.put(ns, f"k{i}", {"i": i}) for i in range(1, 4)]
    original = spy._run

    def interrupted_second(tenant: str, checked: list[Any]) -> list[Any]:
        if len(spy.runs) == 2:
            raise KeyboardInterrupt
        return original(tenant, checked)

    spy._run = interrupted_second  # type: ignore[method-assign]
    results = held_round(store, spy, tenant, lambda: store.put(ns, "k0", {"i": 0}), others)
    assert results[0] is None
    leader = [r for r in results[1:] if isinstance(r, KeyboardInterrupt)]
    assert len(leader) == 1
    cut = [r for r in results[1:] if isinstance(r, StoreBatchInterrupted)]
    assert len(cut) == 2 and all(isinstance(r.__cause__, KeyboardInterrupt) for r in cut)
    assert store._gatherer._lanes == {}
    in_threads([lambda i=i: store.put(ns, f"again{i}", {"i": i}) for i in range(4)])
    assert len(store.search(ns, query=None, limit=100)) >= 5


def test_a_bad_op_fails_at_once_without_joining_a_batch(pool, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store, hold=True)
    lead = threading.Thread(target=lambda: store.put(ns, "lead", {}))
    lead.start()
    assert spy.entered.wait(10)
    # while a batch runs: checked in the caller's thread, it fails there, never queued
    bad = in_threads([lambda: store.put(ns, "bad", {"v": float("nan")})])
    assert isinstance(bad[0], InvalidValue)
    assert spy.queued(tenant) == 0
    spy.release()
    lead.join(10)
    assert store.get(ns, "lead") is not None and store.get(ns, "bad") is None


def test_a_users_batch_stays_its_own_transaction(pool, tenant, ns, held_row) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store)
    store.put(ns, "locked", {"v": "old"})
    held_row(tenant, ns, "locked")
    with pytest.raises(StoreBatchFailed):
        store.batch([PutOp(ns, "a", {"v": 1}), PutOp(ns, "locked", {"v": "new"})])
    assert store.get(ns, "a") is None  # all or nothing: "a" went down with "locked"
    store.batch([PutOp(ns, "b", {"v": 2})])  # a batch of one op: still the user's own
    puts = [ops for _, ops in spy.runs if isinstance(ops[0], PutOp)]
    assert puts == [[PutOp(ns, "locked", {"v": "old"})]]  # not the batches


def test_puts_in_an_atomic_block_are_not_gathered(pool, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    spy = Batches(store)
    with store.atomic("block"):
        for i in range(4):
            store.put(ns, f"k{i}", {"i": i})
        assert len(store.search(ns)) == 4  # the block's own writes, on its connection
    assert spy.runs == []
    assert len(store.search(ns)) == 4


class State(TypedDict):
    who: str
    count: int


def notes(state: State, *, store: BaseStore) -> dict:
    for i in range(15):
        store.put(("notes",), f"{state['who']}-{i}", {"who": state["who"]})
    return {"count": len(store.search(("notes",), limit=100))}


def test_tenants_of_concurrent_threads_never_share_a_transaction(pool, tenant, database) -> None:
    """Graph runs of four tenants in four threads at once, on one unbound store: each
    put acts for its own run's tenant, and every batch holds one tenant's ops."""
    store = AlmaStore(pool)  # unbound: each run's configurable.tenant_id
    spy = Batches(store)
    builder = StateGraph(State)
    builder.add_node("notes", notes)
    builder.add_edge(START, "notes")
    builder.add_edge("notes", END)
    graph = builder.compile(store=store)
    tenants = [f"{tenant}-{n}" for n in range(4)]
    start = threading.Barrier(len(tenants))

    def run(t: str) -> Any:
        start.wait()
        return graph.invoke({"who": t, "count": 0}, {"configurable": {"tenant_id": t}})

    outs = in_threads([lambda t=t: run(t) for t in tenants])
    assert [o["count"] for o in outs] == [15] * 4
    puts = [(t, ops) for t, ops in spy.runs if isinstance(ops[0], PutOp)]
    assert puts and all({op.value["who"] for op in ops} == {t} for t, ops in puts)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tenant_id, value->>'who', xmin::text FROM alma_store WHERE tenant_id = ANY(%s)",
            (tenants,),
        ).fetchall()
    assert len(rows) == 60 and all(t == who for t, who, _ in rows)
    by_xact: dict[str, set[str]] = {}
    for t, _, xact in rows:
        by_xact.setdefault(xact, set()).add(t)
    assert all(len(ts) == 1 for ts in by_xact.values())


def test_mixed_load_of_eight_threads_has_no_error_and_no_deadlock(
    pool, tenant, ns, indexed_setup
) -> None:
    """1,600 ops from 8 threads on overlapping keys: gets, puts, deletes, filtered and
    query searches, all at once; every op returns, none fails."""
    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    )
    store.batch([PutOp(ns, f"k{i}", {"text": f"note {i} about cars", "n": i}) for i in range(40)])
    start = threading.Barrier(THREADS)
    words = ["cars", "cats", "note", "tea", "vehicle", "kitten"]

    def worker(seed: int) -> int:
        rng = random.Random(seed)
        start.wait()
        for _ in range(200):
            key, roll = f"k{rng.randrange(40)}", rng.random()
            if roll < 0.4:
                store.get(ns, key)
            elif roll < 0.7:
                store.put(ns, key, {"text": f"{rng.choice(words)} {seed}", "n": rng.randrange(9)})
            elif roll < 0.75:
                store.delete(ns, key)
            elif roll < 0.9:
                store.search(ns, filter={"n": rng.randrange(9)}, limit=5)
            else:
                store.search(ns, query=rng.choice(words), limit=5)
        return 200

    results = in_threads([lambda s=s: worker(s) for s in range(THREADS)])
    assert results == [200] * THREADS, [r for r in results if r != 200][:3]
    assert store._gatherer._lanes == {}
    assert store._gatherer.most_gathered > 1
