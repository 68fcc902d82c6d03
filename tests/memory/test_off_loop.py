"""Async plans keep the event loop free: a step handed many items, or one that asks
(`OFF_LOOP`), runs in a worker thread; small steps stay on the loop."""

from __future__ import annotations

import threading

from langgraph.store.base import PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from langgraph_alma.memory.plan import OFF_LOOP, OFF_LOOP_ITEMS, arun_store_plan


async def test_big_steps_run_off_the_event_loop() -> None:
    store = InMemoryStore()
    await store.abatch([PutOp(("ns",), str(i), {"v": i}) for i in range(OFF_LOOP_ITEMS + 50)])
    seen: list[threading.Thread] = []

    def plan():
        seen.append(threading.current_thread())
        (many,) = yield [SearchOp(("ns",), limit=OFF_LOOP_ITEMS + 50)]
        seen.append(threading.current_thread())  # many items: a worker thread
        (few,) = yield [SearchOp(("ns",), limit=5)]
        seen.append(threading.current_thread())  # a few: the loop
        yield OFF_LOOP
        seen.append(threading.current_thread())  # asked for: a worker thread
        return len(many) + len(few)

    assert await arun_store_plan(store, plan()) == OFF_LOOP_ITEMS + 55
    loop_thread = threading.current_thread()
    assert [t is loop_thread for t in seen] == [True, False, True, False]
