"""Factories that serve `AsyncAlmaSaver` and `AsyncAlmaStore` to `langgraph dev` and
LangGraph Studio (and any server built on langgraph-api).

Point a `langgraph.json` at them by dotted import path (`module.attribute`: langgraph-api
splits dotted paths at the last dot; `module:attribute` is only read for file paths):

    {
      "graphs": {"chat": "./graph.py:graph"},
      "checkpointer": {"path": "langgraph_alma.studio.checkpointer"},
      "store": {"path": "langgraph_alma.studio.store"}
    }

The server calls each factory with no arguments and enters the async context manager it
returns once per thread that needs it (each has its own event loop; `langgraph dev` uses
one), before it serves requests, and exits it on shutdown. Each
factory opens a pool on `ALMA_DATABASE_URL` (none: the embedded server in `ALMA_DATA_DIR`,
relative to the server's working directory), runs `setup()` (migrations, idempotent and
safe to race) and closes the pool on exit; the last factory to exit releases the embedded
server (stopped when no other process uses it).

Thread retention: the saver honours langgraph.json's `checkpointer.ttl` block (the
platform's semantics: `strategy` delete or keep_latest, `default_ttl` minutes,
`sweep_interval_minutes`, `sweep_limit`; `ALMA_CHECKPOINT_TTL`, as JSON, overrides its
keys) and sweeps in the background while the server runs.

A server serves one tenant: `ALMA_TENANT_ID` (default "default"). The saver and the store
are bound to it, so a run whose config names another tenant is refused (`TenantMismatch`).

The store indexes items with `ALMA_EMBEDDINGS` (default `hashing:256`, offline
`HashingEmbeddings`), so Studio's memory search ranks by vector and full text with no
network and no API key; `ALMA_EMBEDDINGS=openai:text-embedding-3-small` with
`ALMA_EMBEDDING_DIMS=1536` uses OpenAI's. Or write a factory of your own the same way:

>>> @asynccontextmanager                                        # doctest: +SKIP
... async def store():
...     index = {"dims": 1536, "embed": "openai:text-embedding-3-small"}
...     async with AsyncAlmaStore.from_conn_string(index=index) as s:
...         await s.setup()
...         yield s
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph_alma.checkpoint import AsyncAlmaSaver
from langgraph_alma.config import get_settings
from langgraph_alma.db.connect import resolve
from langgraph_alma.db.embedded import hold_embedded, release_embedded
from langgraph_alma.embeddings import index_config
from langgraph_alma.store import AsyncAlmaStore


async def _tenant() -> str:
    # Settings may read `.alma/config.yaml`: off the event loop, where `langgraph dev`
    # raises on blocking calls.
    return (await asyncio.to_thread(get_settings)).tenant_id


@asynccontextmanager
async def _embedded_lease() -> AsyncIterator[None]:
    """Hold the embedded server, when it is the database, and release it on exit.

    Its own atexit hook is not enough: `langgraph dev`'s reload worker ends by re-raising
    SIGTERM after shutdown, which skips atexit and would leave PostgreSQL running.
    """
    if not (await asyncio.to_thread(resolve)).embedded:
        yield
        return
    server = await asyncio.to_thread(hold_embedded)
    try:
        yield
    finally:
        await asyncio.to_thread(release_embedded, server)


@asynccontextmanager
async def checkpointer() -> AsyncIterator[AsyncAlmaSaver]:
    """An `AsyncAlmaSaver` for the server's tenant, migrated, closed on exit.

    >>> async with checkpointer() as saver:                      # doctest: +SKIP
    ...     await saver.aget_tuple({"configurable": {"thread_id": "t1"}})
    """
    settings = await asyncio.to_thread(get_settings)  # off the loop: see `_tenant`
    # langgraph.json's block, with ALMA_CHECKPOINT_TTL's keys over it.
    ttl = {**((settings.langgraph_checkpointer or {}).get("ttl") or {}),
           **(settings.checkpoint_ttl or {})} or None  # fmt: skip
    async with (
        _embedded_lease(),
        AsyncAlmaSaver.from_conn_string(tenant_id=settings.tenant_id, ttl=ttl) as saver,
    ):
        await saver.setup()
        if saver.ttl is not None:  # stopped by from_conn_string's exit
            await saver.start_ttl_sweeper()
        yield saver


@asynccontextmanager
async def store() -> AsyncIterator[AsyncAlmaStore]:
    """An `AsyncAlmaStore` for the server's tenant, indexed with `ALMA_EMBEDDINGS`,
    migrated (with its vector index), closed on exit.

    >>> async with store() as s:                                  # doctest: +SKIP
    ...     await s.asearch(("memories",), query="tea")
    """
    settings = await asyncio.to_thread(get_settings)  # off the loop: see `_tenant`
    index = index_config(settings.embeddings, settings.embedding_dims)
    async with (
        _embedded_lease(),
        AsyncAlmaStore.from_conn_string(
            index=index,
            tenant_id=settings.tenant_id,
        ) as alma_store,
    ):
        await alma_store.setup()
        yield alma_store


__all__ = ["checkpointer", "store"]
