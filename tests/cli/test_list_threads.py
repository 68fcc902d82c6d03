"""`AlmaSaver.list_threads` / `AsyncAlmaSaver.alist_threads` (one plan, two drivers),
which `alma threads` and `alma export` use."""

from __future__ import annotations

import asyncio

import pytest

from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.errors import ConfigError


def test_list_threads_sync_and_async_agree(database, seeded) -> None:
    with AlmaSaver.from_conn_string(database.url, tenant_id=seeded.tenant) as saver:
        found = saver.list_threads()
        assert [t.thread_id for t in found][0] == seeded.chat  # most recent first
        assert {t.thread_id for t in found} == set(seeded.threads)
        runs = saver.list_threads(agent="ops", workflow_id="nightly")
        assert {t.thread_id for t in runs} == set(seeded.threads) - {seeded.chat}
        assert all(t.checkpoints == 6 and t.last_step == 4 for t in runs)
        assert saver.list_threads(workflow_id="other") == []
        assert len(saver.list_threads(limit=3)) == 3
        with pytest.raises(ConfigError, match="limit must be a non-negative integer"):
            saver.list_threads(limit=-1)
        # Another tenant sees none of them.
        assert saver.for_tenant("nobody-here").list_threads() == []

    async def alist() -> list:
        async with AsyncAlmaSaver.from_conn_string(database.url, tenant_id=seeded.tenant) as s:
            return await s.alist_threads()

    assert asyncio.run(alist()) == found
