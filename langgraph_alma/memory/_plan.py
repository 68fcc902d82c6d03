"""Store plans: the facade's logic written once for sync and async, as generators that
yield batches of LangGraph store ops and receive their results (compare
`langgraph_alma.db.plan`, the same idea one layer down)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TypeVar

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
