"""What the sync and async stores share (`store.py` builds both on it): configuration,
tenancy, the public seams other packages use (`tenant()`, `prepare()`, `privileged`,
`embeddings`) and the retry rule. No I/O here (the pools of `from_conn_string`:
`db.pools`).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, Self

import psycopg
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig, Item, Op, Result, TTLConfig
from langgraph.store.base.embed import EmbeddingsLambda
from psycopg.pq import TransactionStatus

from langgraph_alma.config import Settings, get_settings
from langgraph_alma.db.replica import ReadRoute
from langgraph_alma.errors import ConfigError, StoreBatchFailed
from langgraph_alma.store._checks import StoreLimits
from langgraph_alma.store._core import (
    DEFAULT_EXACT_SEARCH_MAX,
    DEFAULT_MAX_VALUE_BYTES,
    Prepared,
    StoreCore,
)
from langgraph_alma.store._failures import is_transient, retry_delay

# The shells' logger, as users (and tests) configure it.
logger = logging.getLogger("langgraph_alma.store.store")

# Serialises `atomic(key)` blocks: a transaction-level advisory lock on the key's hash,
# released when the block's transaction ends (commit or rollback).
LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


def deserialized(results: list[Result], deserializer: Callable[..., Any] | None) -> list[Result]:
    """Results with each item's value passed through LangGraph's `deserializer` (given the
    value's JSON bytes, as PostgresStore gives it)."""
    if deserializer is None:
        return results
    items = [r for r in results if isinstance(r, Item)]
    items += [i for r in results if isinstance(r, list) for i in r if isinstance(i, Item)]
    for item in items:
        item.value = deserializer(json.dumps(item.value).encode())
    return results


Vectors = tuple[list[list[float]], dict[str, list[float]]]
"""(document vectors, query vectors) of a prepared batch."""


def blocking_only(embeddings: Embeddings) -> bool:
    """`embeddings` has no async code of its own: its async methods run its sync ones in
    a worker thread (LangChain's defaults, or LangGraph's wrapper of a plain function)."""
    if isinstance(embeddings, EmbeddingsLambda):
        return getattr(embeddings, "afunc", None) is None
    cls = type(embeddings)
    return (
        cls.aembed_documents is Embeddings.aembed_documents
        and cls.aembed_query is Embeddings.aembed_query
    )


class _AlmaStoreBase(BaseStore):
    """What the sync and async stores share: configuration and tenancy."""

    supports_ttl = True

    def __init__(
        self,
        conn: Any,
        *,
        pipe: Any = None,
        deserializer: Callable[[Any], dict[str, Any]] | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        admin_url: str | None = None,
        read: Any = None,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> None:
        """`conn`: a connection (autocommit) or a pool. `pipe` and `deserializer` are
        PostgresStore's: `pipe` is not needed (each batch is already one pipeline, one
        round trip) and is ignored; `deserializer` gets each value's JSON bytes. `read`:
        a pool (or connection) on a streaming replica for batches that write nothing
        (gets and searches that refresh no TTL, namespace listings), used only once it
        shows this store's own writes (else the primary answers: `db.replica`)."""
        if isinstance(conn, psycopg.Connection | psycopg.AsyncConnection) and not conn.autocommit:
            raise ConfigError("AlmaStore needs a connection opened with autocommit=True")
        self.conn = conn
        self.read = ReadRoute(read) if read is not None else None
        self.pipe = pipe
        self._deserializer = deserializer
        settings = get_settings()
        self._retry_attempts = settings.store_retry_attempts
        self._sweep_chunk = settings.store_sweep_chunk
        # (connection, lock) of the `atomic` block this thread or task is in, if any.
        self._pinned: ContextVar[Any] = ContextVar(f"alma_store_{id(self)}", default=None)
        self.index_config = index
        self.ttl_config = ttl
        self._admin_url = admin_url
        self._core = StoreCore(
            tenant_id=tenant_id,
            default_tenant=settings.tenant_id,
            index=index,
            ttl=ttl,
            privileged=privileged,
            max_value_bytes=max_value_bytes,
            exact_search_max=exact_search_max,
            limits=StoreLimits.from_settings(settings),
            text_config=text_config,
            text_weight=text_weight,
            pooled=not isinstance(conn, psycopg.Connection | psycopg.AsyncConnection),
        )
        self._init_shell(settings)

    def _init_shell(self, settings: Settings) -> None:
        """What the sync or async shell adds (locks, sweeper, gatherer)."""

    def _embed(self, prepared: Prepared) -> Vectors:
        """(document vectors, query vectors) of a prepared batch, by the embedder's sync
        methods."""
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index:
            embeddings = self._core.index.embeddings
            if prepared.documents:
                vectors = embeddings.embed_documents(prepared.documents)
            queries = {q: embeddings.embed_query(q) for q in prepared.queries}
        return vectors, queries

    def _replica_may_answer(self, prepared: Prepared) -> bool:
        """A replica is configured, this batch writes nothing (no put, no TTL refresh) and
        it runs outside an atomic block."""
        return (
            self.read is not None
            and self._pinned.get() is None
            and not prepared.puts
            and not any(getattr(op, "refresh_ttl", False) for op in prepared.ops)
        )

    def _retry(self, attempt: int, exc: StoreBatchFailed, own: bool) -> float:
        """Seconds to wait before trying a failed batch again; re-raises `exc` when it is
        not a transient conflict of the batch's own transaction, or tries are used up."""
        delay = retry_delay(attempt, self._retry_attempts) if own and is_transient(exc) else None
        if delay is None:
            raise exc
        logger.debug("store batch hit %s; retrying in %.3fs", type(exc.__cause__).__name__, delay)
        return delay

    @property
    def tenant_id(self) -> str | None:
        """The tenant this store is bound to (None: each graph run's, or the default)."""
        return self._core.tenant_id

    def for_tenant(self, tenant_id: str) -> Self:
        """A view of this store bound to `tenant_id`, sharing its connections.

        >>> store.for_tenant("acme").get(("users",), "u1")     # doctest: +SKIP
        """
        clone = copy.copy(self)
        clone._core = copy.copy(self._core)
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ConfigError(f"tenant_id must be a non-empty string, got {tenant_id!r}")
        clone._core.tenant_id = tenant_id
        return clone

    @property
    def privileged(self) -> bool:
        """True for a store whose role bypasses row-level security (`privileged=True`):
        it may act on every tenant (`list_tenants()`)."""
        return self._core.privileged

    @property
    def embeddings(self) -> Embeddings | None:
        """The embeddings this store indexes with (its `IndexConfig`'s), None without an
        index. `store.embeddings.embed_query("tea")` gives the vector a search would use."""
        return self._core.index.embeddings if self._core.index else None

    def tenant(self) -> str:
        """The tenant a call made now acts for: the bound one, else the current run's
        `configurable["tenant_id"]`, else the default. `store.for_tenant("acme").tenant()`."""
        return self._core.tenant()

    def prepare(self, ops: Iterable[Op]) -> Prepared:
        """Validate `ops` for this store's tenant without writing anything (raises the
        error a batch of them would); `execute_on` then runs them on a given connection.

        >>> store.prepare([PutOp(("users",), "u1", {"x": 1})]).tenant   # doctest: +SKIP
        """
        return self._core.prepare(ops)

    def _lock_name(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ConfigError(f"an atomic block needs a non-empty string key, got {key!r}")
        return f"{self.tenant_id or ''}\x1f{key}"

    def _sweep_minutes(self, minutes: float | None) -> float:
        minutes = minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not minutes > 0:
            raise ConfigError(f"sweep interval must be a positive number, got {minutes!r}")
        return float(minutes)


def idle(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """The connection is in no transaction: a batch may open (and retry) its own."""
    return conn.info.transaction_status == TransactionStatus.IDLE
