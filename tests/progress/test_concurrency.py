"""Concurrent changes to one project lose nothing: each change reads the project's items
and writes some back inside `store.atomic`, serialised per tenant and project."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from langgraph_alma.progress import AsyncProgressTracker, ProgressTracker, WorkStatus


def test_threads_adding_dependants_of_one_item_lose_none(pg_store, project, clock) -> None:
    store = pg_store  # the lock is `AlmaStore.atomic`'s
    tracker = ProgressTracker(store, project_id=project, clock=clock)
    root = tracker.create_work_item("root")

    def add(i: int) -> str:  # each tracker of its own, as separate agents would have
        own = ProgressTracker(store, project_id=project, clock=clock)
        return own.create_work_item(f"child {i}", blocked_by=[root.id]).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        children = list(pool.map(add, range(12)))

    # Without the lock, two creates read the same `root.blocks` and the later write wins.
    assert sorted(tracker.get_item(root.id).blocks) == sorted(children)
    assert len(tracker.list_items()) == 13


async def test_tasks_updating_one_project_lose_none(apg_store, project, clock) -> None:
    astore = apg_store
    tracker = AsyncProgressTracker(astore, project_id=project, clock=clock)
    root = await tracker.create_work_item("root")
    children = await asyncio.gather(
        *(tracker.create_work_item(f"child {i}", blocked_by=[root.id]) for i in range(8))
    )
    assert sorted((await tracker.get_item(root.id)).blocks) == sorted(c.id for c in children)
    # finishing the root unblocks every child in the same transaction
    await tracker.set_status(root.id, "in_progress")
    await tracker.set_status(root.id, "done")
    statuses = {i.status for i in await tracker.list_items() if i.id != root.id}
    assert statuses == {WorkStatus.PENDING}
