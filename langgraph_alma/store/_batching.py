"""Gathering the calls that arrive together on an async store into one batch.

LangGraph's `AsyncPostgresStore` (through `AsyncBatchedBaseStore`) queues every
`aget`/`aput`/`asearch`/... and runs what accumulated while the previous batch was in
flight as one `abatch`. `OpGatherer` does the same for `AsyncAlmaStore`, with two
differences its callers rely on:

- tenants never share a transaction: each caller's tenant is read when it calls (from its
  own run config), and a round of gathered ops runs as one batch per tenant;
- each caller gets its own result or its own error: ops are checked one by one before
  they are queued (a bad op fails its caller only, at once), and if a gathered batch
  still fails in the database (where it rolls back whole), its ops are run again one
  caller at a time, in arrival order, so only the culprit fails.

>>> gatherer = OpGatherer(run_batch, max_ops=512)                 # doctest: +SKIP
>>> await gatherer.submit("acme", core.check(GetOp(("users",), "u1")))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from langgraph.store.base import Result

from langgraph_alma.store._core import CheckedOp

RunBatch = Callable[[str, list[CheckedOp]], Awaitable[list[Result]]]
"""Runs the checked ops of one tenant as one batch; results in op order."""


@dataclass(frozen=True, slots=True)
class _Waiter:
    tenant: str
    checked: CheckedOp
    future: asyncio.Future[Result]


class OpGatherer:
    """Queues single ops from concurrent callers and runs them in batches.

    At most `max_inflight` rounds run at a time; ops that arrive meanwhile wait for the
    next round, which takes up to `max_ops` of them (split by tenant). A round starts
    on the event loop's next turn, so calls made together (`asyncio.gather`, a graph's
    parallel nodes) land in the same one.
    """

    def __init__(self, run: RunBatch, *, max_ops: int, max_inflight: int = 2) -> None:
        self._run = run
        self.max_ops = max_ops
        self.max_inflight = max_inflight
        self._queue: list[_Waiter] = []
        self._inflight = 0
        self._drainer: asyncio.Task[None] | None = None
        self._round_done: asyncio.Event | None = None
        self.batches = 0  # how many batches ran (tests and benchmarks read it)

    async def submit(self, tenant: str, checked: CheckedOp) -> Result:
        """Queue one checked op of `tenant`; its result (or error) once its batch ran."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append(_Waiter(tenant, checked, future))
        if self._drainer is None or self._drainer.done():
            # A clean context: the drainer must not carry the first caller's run config
            # or pinned connection into everyone's batches.
            self._drainer = loop.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        self._round_done = asyncio.Event()
        rounds: set[asyncio.Task[None]] = set()
        while True:
            await asyncio.sleep(0)  # let the calls of this turn of the loop arrive
            while self._inflight >= self.max_inflight:
                self._round_done.clear()
                await self._round_done.wait()
            waiters = [w for w in self._queue[: self.max_ops] if not w.future.done()]
            del self._queue[: self.max_ops]
            if waiters:
                self._inflight += 1
                task = asyncio.get_running_loop().create_task(self._round(waiters))
                rounds.add(task)
                task.add_done_callback(rounds.discard)
            if not self._queue:
                return

    async def _round(self, waiters: list[_Waiter]) -> None:
        try:
            by_tenant: dict[str, list[_Waiter]] = {}
            for w in waiters:
                by_tenant.setdefault(w.tenant, []).append(w)
            await asyncio.gather(*(self._batch(t, ws) for t, ws in by_tenant.items()))
        finally:
            self._inflight -= 1
            if self._round_done is not None:
                self._round_done.set()

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
