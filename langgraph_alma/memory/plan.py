"""Store plans: the facade's logic written once for sync and async, as generators that
yield batches of LangGraph store ops and receive their results (compare
`langgraph_alma.db.plan`, the same idea one layer down)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Any, NamedTuple, TypeVar, cast

from langgraph.store.base import BaseStore, Op

from langgraph_alma.db.plan import off_loop
from langgraph_alma.store import AlmaStore, AsyncAlmaStore

T = TypeVar("T")


class CountOp(NamedTuple):
    """How many items `SearchOp(namespace_prefix, filter)` would page through: answered
    by the store's `count_items` (one count statement, no item read, on an `AlmaStore`),
    else by paging through the search. A plan yields counts alone, never mixed with ops.

    >>> stored, wins = yield [CountOp(prefix, f), CountOp(prefix, {**f, "success": True})]
    """

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None


StorePlan = Generator[Sequence[Op | CountOp], list[Any], T]
"""A plan yields a batch of store ops (or of `CountOp`s) and receives their results
(`Result`s, or counts)."""

COUNT_PAGE = 1_000
"""Items one page of a count reads, on a store that cannot count without reading."""


def _counts(ops: Sequence[Op | CountOp]) -> list[CountOp] | None:
    counts = [op for op in ops if isinstance(op, CountOp)]
    if counts and len(counts) != len(ops):
        raise TypeError("a plan yields CountOps alone, never mixed with store ops")
    return counts or None


def _batch(store: BaseStore, ops: Sequence[Op | CountOp]) -> list[Any]:
    counts = _counts(ops)
    if counts is None:
        return store.batch(cast(Sequence[Op], ops)) if ops else []
    if isinstance(store, AlmaStore):
        return [store.count_items(op.namespace_prefix, op.filter) for op in counts]
    found = []
    for op in counts:  # a store that cannot count: page through the search
        n = 0
        while (
            len(page := store.search(op[0], filter=op[1], limit=COUNT_PAGE, offset=n)) == COUNT_PAGE
        ):
            n += COUNT_PAGE
        found.append(n + len(page))
    return found


async def _abatch(store: BaseStore, ops: Sequence[Op | CountOp]) -> list[Any]:
    counts = _counts(ops)
    if counts is None:
        return await store.abatch(cast(Sequence[Op], ops)) if ops else []
    if isinstance(store, AsyncAlmaStore):
        return [await store.acount_items(op.namespace_prefix, op.filter) for op in counts]
    found = []
    for op in counts:
        n = 0
        while (
            len(page := await store.asearch(op[0], filter=op[1], limit=COUNT_PAGE, offset=n))
            == COUNT_PAGE
        ):
            n += COUNT_PAGE
        found.append(n + len(page))
    return found


def run_store_plan(store: BaseStore, plan: StorePlan[T]) -> T:
    """Drive `plan` with `store.batch` (one batch, one round trip, one transaction)."""
    try:
        ops = next(plan)
        while True:
            ops = plan.send(_batch(store, ops))
    except StopIteration as done:
        return cast(T, done.value)  # the plan's return value


OFF_LOOP_ITEMS = 100
"""A plan step handed more items than this (a scan, a consolidation) runs in a worker
thread: converting and scoring thousands of items would hold the event loop, and every
other caller on it, for as long."""


class _OffLoop(tuple[Any, ...]):
    pass


OFF_LOOP: Sequence[Op] = _OffLoop()
"""Yielded by a plan (no ops) before CPU work of its own, such as comparing thousands of
vectors: the async runner runs the next step in a worker thread; the sync one goes on."""


def _items_in(results: list[Any]) -> int:
    return sum(len(r) if isinstance(r, list) else 1 for r in results)


def _step(plan: StorePlan[T], results: list[Any]) -> tuple[bool, Any]:
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
        return cast(T, done.value)
    while True:
        results = await _abatch(store, ops)
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
    return store.atomic(key) if isinstance(store, AlmaStore) else nullcontext()


def astore_atomic(store: BaseStore, key: str) -> AbstractAsyncContextManager[Any]:
    """`store.aatomic(key)` on an `AsyncAlmaStore`; no lock on a store without it."""
    return store.aatomic(key) if isinstance(store, AsyncAlmaStore) else nullcontext()
