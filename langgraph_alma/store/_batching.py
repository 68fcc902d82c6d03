"""Gathering the calls that arrive together on an async store into batches.

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

>>> gatherer = OpGatherer(run_batch, max_ops=512, max_inflight=8)     # doctest: +SKIP
>>> await gatherer.submit("acme", core.check(GetOp(("users",), "u1")))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from langgraph.store.base import GetOp, PutOp, Result, SearchOp

from langgraph_alma.store._core import CheckedOp

RunBatch = Callable[[str, list[CheckedOp]], Awaitable[list[Result]]]
"""Runs the checked ops of one tenant as one batch; results in op order."""

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
