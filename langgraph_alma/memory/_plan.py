"""Store plans: the facade's logic written once for sync and async, as generators that
yield batches of LangGraph store ops and receive their results (compare
`langgraph_alma.db.plan`, the same idea one layer down)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from typing import Any, TypeVar

from langgraph.store.base import BaseStore, Op, Result

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


async def arun_store_plan(store: BaseStore, plan: StorePlan[T]) -> T:
    """Drive `plan` with `await store.abatch`."""
    try:
        ops = next(plan)
        while True:
            ops = plan.send(await store.abatch(ops) if ops else [])
    except StopIteration as done:
        return done.value


def store_atomic(store: BaseStore, key: str) -> AbstractContextManager[Any]:
    """`store.atomic(key)` on an `AlmaStore` (one transaction, serialised per tenant and
    key); no lock on a store without it."""
    atomic = getattr(store, "atomic", None)
    return atomic(key) if atomic else nullcontext()


def astore_atomic(store: BaseStore, key: str) -> AbstractAsyncContextManager[Any]:
    """`store.aatomic(key)` on an `AsyncAlmaStore`; no lock on a store without it."""
    aatomic = getattr(store, "aatomic", None)
    return aatomic(key) if aatomic else nullcontext()
