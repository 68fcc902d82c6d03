"""Gathering the calls that arrive together on a store into batches.

LangGraph's `AsyncPostgresStore` (through `AsyncBatchedBaseStore`) queues every
`aget`/`aput`/`asearch`/... and runs what accumulated while the previous batch was in
flight as one `abatch`, one batch at a time. `OpGatherer` does the same for
`AsyncAlmaStore`, with what its callers rely on:

- tenants never share a transaction: each caller's tenant is read when it calls (from its
  own run config), and the ops of a round run as batches of one tenant each;
- each caller gets its own result or its own error: ops are checked one by one before
  they are queued (a bad op fails its caller only, at once), and if a gathered batch
  still fails in the database (where it rolls back whole), its ops are run again one
  caller at a time, in arrival order, so only the culprit fails;
- the writes of a round stay in one batch (one transaction), in arrival order (the last
  put of a key wins).

And what makes it faster than one batch at a time on a pool: a round that holds more
work than one batch is worth (`weight`, in rough units of 0.1 ms of database time) is
split into several batches sent at once on as many of the pool's connections
(`max_inflight`), so the server runs them on several cores while this loop prepares the
next; while batches are in flight, a new round waits until it is worth a batch of its
own (or a batch returns), so the ops keep sharing round trips. Reads run in parallel;
the writes of a tenant run one batch at a time (those that arrive while its write batch
is in flight wait for the next round together), so they share transactions and commits
and never wait on each other's key slots in the database.

`ThreadGatherer` is its twin for the sync `AlmaStore`'s threads, as group commit works: a
thread whose op finds no batch of its lane running (its tenant's writes, its reads...)
sends it at once, alone (no timer, no other thread involved); ops that come meanwhile
queue, and when the batch ends the first of them leads the next one, made of every op
queued by then. The same three promises hold. The two differ by nature (an event loop's
futures and one drainer task, against threads that take turns leading), so they are
written side by side.

>>> gatherer = OpGatherer(run_batch, max_ops=512, max_inflight=8)     # doctest: +SKIP
>>> await gatherer.submit("acme", core.check(GetOp(("users",), "u1")))  # doctest: +SKIP
>>> ThreadGatherer(run_batch_on_thread, max_ops=512).submit("acme", checked)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from langgraph.store.base import GetOp, PutOp, Result, SearchOp

from langgraph_alma.errors import StoreBatchInterrupted
from langgraph_alma.store._core import CheckedOp

RunBatch = Callable[[str, list[CheckedOp]], Awaitable[list[Result]]]
"""Runs the checked ops of one tenant as one batch; results in op order."""

RunBatchOnThread = Callable[[str, list[CheckedOp]], list[Result]]
"""`RunBatch`, sync: runs them on the calling thread."""

BATCH_WEIGHT = 20.0
"""The work (see `weight`) worth a batch of its own: about 2 ms of database time, several
times what a batch costs by itself (its round trip, its opening statement, its commit):
smaller splits cost more CPU than their parallelism gains on a busy 2-core machine."""


def weight(op: object) -> float:
    """A rough cost of `op` in the database, in units of ~0.1 ms (measured with
    `bench/store_concurrency_bench.py`): a get is one row of a shared lookup, a put one
    row of a multi-row upsert plus its vectors, a search one statement of its own (a
    query search: full text, vectors and their fusion)."""
    if isinstance(op, GetOp):
        return 0.3
    if isinstance(op, PutOp):
        return 5.0
    if isinstance(op, SearchOp) and op.query:
        return 20.0
    return 4.0  # a search without a query, a namespace listing


@dataclass(frozen=True, slots=True)
class _Waiter:
    tenant: str
    checked: CheckedOp
    future: asyncio.Future[Result]
    weight: float


def split(waiters: Sequence[_Waiter], parts: int) -> list[list[_Waiter]]:
    """`waiters` (one tenant's) as at most `parts` batches of about equal weight, each in
    arrival order. The gets go together (one statement serves them all), and so do the
    writes (one transaction, the last put of a key wins): the other batches only read, so
    each costs one round trip and its opening statement, and no two of them wait on each
    other's locks."""
    if parts <= 1 or len(waiters) <= 1:
        return [list(waiters)]
    units: dict[object, list[int]] = {}
    for i, w in enumerate(waiters):
        op = w.checked.op
        units.setdefault(type(op) if isinstance(op, GetOp | PutOp) else i, []).append(i)
    if len(units) <= 1:
        return [list(waiters)]
    # The heaviest first, each to the lightest batch so far (longest processing time).
    loads = [0.0] * min(parts, len(units))
    members: list[list[int]] = [[] for _ in loads]
    for unit in sorted(units.values(), key=lambda u: -sum(waiters[i].weight for i in u)):
        lightest = loads.index(min(loads))
        loads[lightest] += sum(waiters[i].weight for i in unit)
        members[lightest].extend(unit)
    return [[waiters[i] for i in sorted(m)] for m in members if m]


class OpGatherer:
    """Queues single ops from concurrent callers and runs them in batches.

    At most `max_inflight` batches run at a time (the store's pool size); ops that
    arrive meanwhile wait for the next round, which takes up to `max_ops` of them (split
    by tenant, and into several batches when there is work enough for several and
    connections free). A round starts on the event loop's next turn, so calls made
    together (`asyncio.gather`, a graph's parallel nodes) land in the same one.
    """

    def __init__(self, run: RunBatch, *, max_ops: int, max_inflight: int = 2) -> None:
        self._run = run
        self.max_ops = max_ops
        self.max_inflight = max(1, max_inflight)
        self._queue: list[_Waiter] = []
        self._queued_weight = 0.0
        self._inflight = 0
        self._drainer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._writing: set[str] = set()  # tenants with a batch of writes in flight
        self.batches = 0  # how many batches ran (tests and benchmarks read it)
        self.most_inflight = 0  # the most batches in flight at once (tests read it)

    async def submit(self, tenant: str, checked: CheckedOp) -> Result:
        """Queue one checked op of `tenant`; its result (or error) once its batch ran."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        waiter = _Waiter(tenant, checked, future, weight(checked.op))
        self._queue.append(waiter)
        self._queued_weight += waiter.weight
        if self._drainer is None or self._drainer.done():
            # A clean context: the drainer must not carry the first caller's run config
            # or pinned connection into everyone's batches.
            self._wake = asyncio.Event()
            self._drainer = loop.create_task(self._drain(), context=contextvars.Context())
        elif self._wake is not None and self._queued_weight >= BATCH_WEIGHT:
            self._wake.set()
        return await future

    def _held(self, waiter: _Waiter) -> bool:
        """A write of a tenant whose write batch is in flight: it waits for the next
        round, so that writes share a transaction and a commit, and (taking the same key
        slots) do not queue behind each other in the database."""
        return waiter.tenant in self._writing and isinstance(waiter.checked.op, PutOp)

    def _ready(self) -> bool:
        """A round may start: a connection is free, and nothing is in flight or the
        queue is worth a batch of its own (else it waits to share the next round)."""
        if self._inflight >= self.max_inflight:
            return False
        takeable = [w.weight for w in self._queue if not self._held(w)]
        if not takeable:
            return False
        return self._inflight == 0 or sum(takeable) >= BATCH_WEIGHT

    async def _drain(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            await asyncio.sleep(0)  # let the calls of this turn of the loop arrive
            while not self._ready():
                wake.clear()
                await wake.wait()
            taken: list[_Waiter] = []
            held: list[_Waiter] = []
            for w in self._queue:
                (taken if len(taken) < self.max_ops and not self._held(w) else held).append(w)
            self._queue = held
            self._queued_weight = sum(w.weight for w in held)
            self._start_round([w for w in taken if not w.future.done()])
            if not self._queue:
                return

    def _start_round(self, waiters: list[_Waiter]) -> None:
        by_tenant: dict[str, list[_Waiter]] = {}
        for w in waiters:
            by_tenant.setdefault(w.tenant, []).append(w)
        free = max(1, self.max_inflight - self._inflight)
        total = sum(w.weight for w in waiters) or 1.0
        loop = asyncio.get_running_loop()
        for tenant, ws in by_tenant.items():
            tenant_weight = sum(w.weight for w in ws)
            parts = min(round(free * tenant_weight / total), int(tenant_weight // BATCH_WEIGHT))
            for chunk in split(ws, max(1, parts)):
                writes = any(isinstance(w.checked.op, PutOp) for w in chunk)
                if writes:
                    self._writing.add(tenant)
                self._inflight += 1
                self.most_inflight = max(self.most_inflight, self._inflight)
                task = loop.create_task(self._batch(tenant, chunk))
                self._batches.add(task)
                task.add_done_callback(
                    functools.partial(self._batch_done, tenant if writes else None)
                )

    def _batch_done(self, writer: str | None, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        self._inflight -= 1
        if writer is not None:
            self._writing.discard(writer)
        if self._wake is not None:
            self._wake.set()

    async def _batch(self, tenant: str, waiters: list[_Waiter]) -> None:
        self.batches += 1
        try:
            results = await self._run(tenant, [w.checked for w in waiters])
        except Exception as exc:
            if len(waiters) == 1:
                _settle(waiters[0], exception=exc)
                return
            # The whole batch rolled back: run each caller's op alone, in arrival order,
            # so that only the culprit fails and later puts still win.
            for w in waiters:
                if w.future.done():
                    continue
                self.batches += 1
                try:
                    _settle(w, result=(await self._run(tenant, [w.checked]))[0])
                except Exception as alone:
                    _settle(w, exception=alone)
            return
        except BaseException as exc:  # cancelled: so are the callers' calls
            for w in waiters:
                if not w.future.done():
                    w.future.cancel()
            raise exc
        for w, result in zip(waiters, results, strict=True):
            _settle(w, result=result)


def _settle(
    waiter: _Waiter, *, result: Result = None, exception: BaseException | None = None
) -> None:
    if waiter.future.done():  # the caller was cancelled meanwhile
        return
    if exception is not None:
        waiter.future.set_exception(exception)
    else:
        waiter.future.set_result(result)


class _Slot:
    """One thread's op in a `ThreadGatherer`: its outcome once run, and how its thread
    waits (a lock it holds, released when the op has an outcome or the thread is to lead
    the next batch; made only for a thread that waits: most ops lead their own batch)."""

    __slots__ = ("checked", "done", "error", "lead", "result", "wake")

    def __init__(self, checked: CheckedOp) -> None:
        self.checked = checked
        self.result: Result = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False  # woken to lead the next batch, not with an outcome
        self.wake: threading.Lock | None = None

    def settle(self, result: Result = None, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.result, self.error, self.done = result, error, True
        if self.wake is not None and not self.lead:  # a leader is not waiting
            self.wake.release()

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        return self.result


class ThreadGatherer:
    """Gathers the ops that threads send at once into batches (see the module): `submit`
    returns the caller's result or raises its error.

    Ops go to lanes, one set per tenant, and one batch of a lane runs at a time: an op
    that finds one running waits for the next, with every op queued meanwhile. The store
    sends its writes to one lane (they share a transaction and its commit, and never wait
    on each other's key slots) and its reads to others (so that they never wait on a
    write's locks).
    """

    def __init__(self, run: RunBatchOnThread, *, max_ops: int) -> None:
        self._run = run
        self.max_ops = max(1, max_ops)
        self._guard = threading.Lock()  # guards the lanes; never held during I/O
        # (tenant, lane) -> the ops waiting for its next batch; a lane is here while a
        # batch of it runs (its leader hands the lane on when it ends).
        self._lanes: dict[tuple[str, str], list[_Slot]] = {}
        self._leading = threading.local()  # .now: this thread runs a batch (see `submit`)
        self.batches = 0  # how many batches ran (tests and benchmarks read it)
        self.most_gathered = 0  # the most ops of one batch (tests read it)

    def submit(self, tenant: str, checked: CheckedOp, lane: str = "writes") -> Result:
        """Run one checked op of `tenant` in a batch of `lane`, with the ops other threads
        send to it meanwhile."""
        if getattr(self._leading, "now", False):
            # Called from the batch this thread runs (an embedder or deserializer that
            # uses the store): it would wait for itself; it goes alone, at once.
            return self._run(tenant, [checked])[0]
        slot = _Slot(checked)
        key = (tenant, lane)
        with self._guard:
            queue = self._lanes.get(key)
            if queue is None:  # no batch of this lane runs: lead one, now
                self._lanes[key] = []
                batch = [slot]
            else:
                slot.wake = threading.Lock()
                slot.wake.acquire()
                queue.append(slot)
        if queue is not None:
            try:
                slot.wake.acquire()  # type: ignore[union-attr]  # made above
            except BaseException:
                self._abandon(key, slot)
                raise
            if not slot.lead:
                return slot.outcome()
            with self._guard:  # lead the ops queued by now, this one first
                queue = self._lanes[key]
                batch, self._lanes[key] = queue[: self.max_ops], queue[self.max_ops :]
        self._leading.now = True
        try:
            self._run_batch(tenant, batch)
        finally:
            self._leading.now = False
            self._hand_on(key)
        return slot.outcome()

    def _hand_on(self, key: tuple[str, str]) -> None:
        """After a batch: the first op queued meanwhile leads the next (else the lane
        closes, and the next op leads at once)."""
        with self._guard:
            queue = self._lanes[key]
            if not queue:
                del self._lanes[key]
                return
            follower = queue[0]
            follower.lead = True
        assert follower.wake is not None
        follower.wake.release()

    def _abandon(self, key: tuple[str, str], slot: _Slot) -> None:
        """The thread of `slot` was interrupted while it waited: its op leaves the queue
        (if a batch took it already, it may still run), and if it was to lead the next
        batch, the next op leads instead."""
        with self._guard:
            queue = self._lanes.get(key, [])
            if slot in queue:
                queue.remove(slot)
            slot.done = True
            lead = slot.lead
        if lead:
            self._hand_on(key)

    def _run_batch(self, tenant: str, slots: list[_Slot]) -> None:
        with self._guard:
            self.batches += 1
            self.most_gathered = max(self.most_gathered, len(slots))
        try:
            try:
                results = self._run(tenant, [s.checked for s in slots])
            except Exception as exc:
                if len(slots) == 1:
                    slots[0].settle(error=exc)
                    return
                # The whole batch rolled back: each op again, alone, in arrival order,
                # so that only the culprit fails and later puts still win.
                for s in slots:
                    with self._guard:
                        self.batches += 1
                    try:
                        s.settle(self._run(tenant, [s.checked])[0])
                    except Exception as alone:
                        s.settle(error=alone)
                return
        except BaseException as exc:  # the leader is interrupted: not the others' error
            for s in slots:
                s.settle(error=_cut(exc))
            raise
        for s, result in zip(slots, results, strict=True):
            s.settle(result)


def _cut(exc: BaseException) -> StoreBatchInterrupted:
    """What an op learns when the thread that led its batch was interrupted: never the
    interruption itself (another thread's KeyboardInterrupt is not its own)."""
    err = StoreBatchInterrupted(f"a store batch it was sent with was interrupted: {exc!r}")
    err.__cause__ = exc
    return err
