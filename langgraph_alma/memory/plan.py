"""Store plans: the facade's logic written once for sync and async, as generators that
yield batches of LangGraph store ops and receive their results (compare
`langgraph_alma.db.plan`, the same idea one layer down)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Any, TypeVar, cast

from langgraph.store.base import BaseStore, Op, Result

from langgraph_alma.db.plan import off_loop

T = TypeVar("T")
StorePlan = Generator[Sequence[Op], list[Result], T]


def run_store_plan(store: BaseStore, plan: StorePlan[T]) -> T:
    """Drive `plan` with `store.batch` (one batch, one round trip, one transaction)."""
    try:
        ops = next(plan)
        while True:
            ops = plan.send(store.batch(ops) if ops else [])
    except StopIteration as done:
        return done.value


OFF_LOOP_ITEMS = 100
"""A plan step handed more items than this (a scan, a consolidation) runs in a worker
thread: converting and scoring thousands of items would hold the event loop, and every
other caller on it, for as long."""


class _OffLoop(tuple[Any, ...]):
    pass


OFF_LOOP: Sequence[Op] = _OffLoop()
"""Yielded by a plan (no ops) before CPU work of its own, such as comparing thousands of
vectors: the async runner runs the next step in a worker thread; the sync one goes on."""


def _items_in(results: list[Result]) -> int:
    return sum(len(r) if isinstance(r, list) else 1 for r in results)


def _step(plan: StorePlan[T], results: list[Result]) -> tuple[bool, Any]:
    # StopIteration may not cross a thread's future: returned, not raised.
    try:
        return False, plan.send(results)
    except StopIteration as done:
        return True, done.value


async def arun_store_plan(store: BaseStore, plan: StorePlan[T]) -> T:
    """Drive `plan` with `await store.abatch`; a step handed many items (`OFF_LOOP_ITEMS`)
    or asked for (`OFF_LOOP`) runs in a worker thread, so the loop stays free."""
    try:
        ops = next(plan)
    except StopIteration as done:
        return done.value
    while True:
        results = await store.abatch(ops) if ops else []
        if isinstance(ops, _OffLoop) or _items_in(results) > OFF_LOOP_ITEMS:
            finished, step = await off_loop(_step, plan, results)
        else:
            finished, step = _step(plan, results)
        if finished:
            return cast(T, step)  # the plan's return value
        ops = step


def store_atomic(store: BaseStore, key: str) -> AbstractContextManager[Any]:
    """`store.atomic(key)` on an `AlmaStore` (one transaction, serialised per tenant and
    key); no lock on a store without it."""
    atomic = getattr(store, "atomic", None)
    return atomic(key) if atomic else nullcontext()


def astore_atomic(store: BaseStore, key: str) -> AbstractAsyncContextManager[Any]:
    """`store.aatomic(key)` on an `AsyncAlmaStore`; no lock on a store without it."""
    aatomic = getattr(store, "aatomic", None)
    return aatomic(key) if aatomic else nullcontext()
