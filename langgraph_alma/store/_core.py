"""The logic of AlmaStore, written once as statement plans (see `langgraph_alma.db.plan`).

A batch runs in two steps, so that sync and async differ only in I/O:
`StoreCore.prepare(ops)` validates every op and lists the texts to embed (nothing is
written if any op is bad); the shell embeds them (sync or async); then
`StoreCore.execute(...)` is one plan of one pipeline: reads first, then writes, in one
transaction, with LangGraph's semantics (reads see the state before the batch's writes,
the last put of a key wins, results in op order).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson
import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    ListNamespacesOp,
    Op,
    Result,
    SearchOp,
    TTLConfig,
)

from langgraph_alma.config import get_settings
from langgraph_alma.db.plan import Plan, Sql
from langgraph_alma.db.tenancy import resolve_tenant
from langgraph_alma.errors import (
    ConfigError,
    PrivilegeRequired,
    StoreBatchFailed,
)
from langgraph_alma.store import _backlog, _search, _sql
from langgraph_alma.store._checks import (
    StoreLimits,
    trim_query,
    ttl_problem,
)
from langgraph_alma.store._failures import describe_ops
from langgraph_alma.store._filters import build_filter
from langgraph_alma.store._index import ANN_CHOICES, IndexSettings
from langgraph_alma.store._prepared import CheckedOp, Key, OpChecks, Prepared, ns_path
from langgraph_alma.store._rows import AlmaSearchItem, item_from_row, search_item_from_row

__all__ = [
    "ANN_CHOICES",
    "DEFAULT_EXACT_SEARCH_MAX",
    "DEFAULT_MAX_VALUE_BYTES",
    "AlmaSearchItem",
    "CheckedOp",
    "IndexSettings",
    "Key",
    "Prepared",
    "StoreCore",
    "ns_path",
    "run_config",
    "trim_query",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
DEFAULT_EXACT_SEARCH_MAX = 2000
ANN_CHECK_SHARE = 10  # the indexer asks for the HNSW build each 1/10 of its bound written
_ALL_DEPTHS = 2**31 - 1


def run_config() -> RunnableConfig | None:
    """The config of the graph run calling us, if any (LangGraph keeps it in a context var)."""
    from langgraph.config import get_config

    try:
        return get_config()
    except RuntimeError:
        return None


class StoreCore(OpChecks):
    """Validation, encoding and plans for every store operation."""

    def __init__(
        self,
        *,
        tenant_id: str | None,
        default_tenant: str,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        privileged: bool = False,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        limits: StoreLimits | None = None,
        text_config: str | None = None,
        text_weight: float | None = None,
        pooled: bool = True,
    ) -> None:
        self.limits = limits or StoreLimits.from_settings()
        default_ttl = (ttl or {}).get("default_ttl")
        if default_ttl is not None and (
            problem := ttl_problem(default_ttl, self.limits.max_ttl_minutes)
        ):
            raise ConfigError(f"TTLConfig default_ttl: {problem}")
        if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id):
            raise ConfigError(f"tenant_id must be a non-empty string, got {tenant_id!r}")
        if max_value_bytes <= 0:
            raise ConfigError(f"max_value_bytes must be positive, got {max_value_bytes!r}")
        self.tenant_id = tenant_id
        self.default_tenant = default_tenant
        self.index = IndexSettings.from_config(index) if index else None
        self.ttl = ttl
        # LangGraph's TTLConfig `omit_expired`: ours defaults to True (an expired item is
        # gone, swept or not); False returns expired items until the sweeper deletes them.
        self.omit_expired = bool((ttl or {}).get("omit_expired", True))
        self.privileged = privileged
        self.max_value_bytes = max_value_bytes
        self.exact_search_max = exact_search_max
        self.large_sets = _search.LargeSets()  # candidate sets above exact_search_max
        self.collection_sizes = _search.CollectionSizes()  # BM25's N per (tenant, prefix)
        settings = get_settings()
        self.text_config = _search.check_text_config(text_config or settings.text_search_config)
        weight = settings.search_text_weight if text_weight is None else text_weight
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ConfigError(f"text_weight must be a number in [0, 1], got {weight!r}")
        self.text_weight = float(weight)
        self.text_lead_weight = settings.search_text_lead_weight
        self.vector_lead = settings.search_vector_lead
        # HNSW upkeep off the put path (`_backlog`): for an HNSW index pgvector can build
        self.backlogs = _backlog.Backlogs()
        self.has_hnsw = bool(  # an HNSW index pgvector can build, for this configuration
            self.index
            and self.index.ann == "hnsw"
            and self.index.dims <= _search.HNSW_MAX_DIMS[self.index.vector_type]
        )
        self.index_deferred = settings.store_index_deferred and self.has_hnsw
        self.backlog_max = settings.store_index_backlog_max
        # The HNSW index itself waits until enough vectors need it (migration 0016): built
        # in bulk by `setup()`, the indexer or `index_backlog()` (`build_ann`). Not on a
        # single connection: the build would hold it (a second or more), and every caller
        # with it; `setup()` builds the index at once there, as before.
        self.ann_build_min = settings.store_ann_build_min if self.index_deferred and pooled else 0
        # known to exist, never deferred, or not this role's to build: not asked again
        self.ann_built = not self.index_deferred
        self.ann_concurrently = True  # until the admin URL's role proves not the owner
        self._ann_pending = 0  # vectors this store wrote since it last asked (a race: a few off)
        self.index_chunk_rows = settings.store_index_chunk
        self.chunk_sizer = _backlog.ChunkSizer(
            settings.store_index_chunk_seconds, settings.store_index_chunk
        )

    # -- tenancy -----------------------------------------------------------------
    def tenant(self, config: RunnableConfig | None = None) -> str:
        """The bound tenant, else the run's `configurable.tenant_id`, else the default."""
        if config is None:
            config = run_config()
        return resolve_tenant(self.tenant_id, config, self.default_tenant)

    # -- validation and encoding ---------------------------------------------------
    def prepare(
        self,
        ops: Iterable[Op],
        config: RunnableConfig | None = None,
        *,
        tenant: str | None = None,
    ) -> Prepared:
        """Validate `ops` and list what to embed; raises before anything is written."""
        checked = [self.check(op, i) for i, op in enumerate(ops)]
        return self.assemble(tenant if tenant is not None else self.tenant(config), checked)

    # -- the batch plan ------------------------------------------------------------
    def execute(
        self,
        prepared: Prepared,
        document_vectors: Sequence[Sequence[float]] = (),
        query_vectors: Mapping[str, Sequence[float]] | None = None,
        *,
        transaction: bool = False,
    ) -> Plan[list[Result]]:
        """One pipeline: the batch's reads, then its writes, in one transaction: an explicit
        one (BEGIN ... COMMIT in the same pipeline) when `transaction` and the batch writes,
        else the pipeline's implicit one (or the caller's, on a connection already in a
        transaction). A database error rolls it back and raises `StoreBatchFailed`."""
        tenant, ops = prepared.tenant, prepared.ops
        if len(document_vectors) != len(prepared.documents):
            raise ConfigError(
                f"the embedder returned {len(document_vectors)} vectors for "
                f"{len(prepared.documents)} texts"
            )
        for text, vector in [
            *zip(prepared.documents, document_vectors, strict=True),
            *(query_vectors or {}).items(),
        ]:
            if not math.isfinite(sum(vector)):  # NaN or infinity: pgvector refuses it
                raise ConfigError(
                    f"the embedder returned a vector with NaN or infinity for {text[:80]!r}; "
                    "nothing was written"
                )
        writes = self._writes(prepared, document_vectors)
        explicit = transaction and bool(writes)
        gets = [op for op in ops if isinstance(op, GetOp)]
        ranked = [(i, op) for i, op in enumerate(ops) if isinstance(op, SearchOp) and op.query]
        plain = [
            i
            for i, op in enumerate(ops)
            if isinstance(op, ListNamespacesOp) or (isinstance(op, SearchOp) and not op.query)
        ]
        generic = bool(gets or ranked or writes)  # see `_sql.batch_settings`
        settings: dict[str, Any] = {"tenant": tenant}
        if prepared.puts:  # the writes' key slots, taken by the opening statement
            settings["ns"] = [ns_path(k[0]) for k in prepared.puts]
            settings["keys"] = [k[1] for k in prepared.puts]
        if ranked:
            window = max(self._window(op) for _, op in ranked)
            settings["ef"] = str(min(1000, max(40, window)))
        batch: list[Sql] = [Sql(_sql.BEGIN)] if explicit else []
        opening = _sql.batch_settings(
            generic=generic and not plain, hnsw=bool(ranked), lock=bool(prepared.puts)
        )
        batch.append(Sql(opening, settings))
        reads: list[tuple[int, int]] = []  # (op index, statement index)
        for i in plain:  # PostgreSQL picks their plans (the best depends on the values)
            op = ops[i]
            if isinstance(op, SearchOp):
                batch.append(self._search(tenant, op, query_vectors or {}))
            else:
                assert isinstance(op, ListNamespacesOp)
                batch.append(self._list_namespaces(tenant, op))
            reads.append((i, len(batch) - 1))
        if generic and plain:
            batch.append(Sql(_sql.GENERIC_PLANS))
        if gets:
            params = {
                "tenant": tenant,
                "ns": [ns_path(op.namespace) for op in gets],
                "keys": [op.key for op in gets],
                "refresh": [bool(op.refresh_ttl) for op in gets],
            }
            statement = _sql.GET if any(params["refresh"]) else _sql.GET_READ_ONLY
            batch.append(Sql(statement, params, fetch=True))
        get_stmt = len(batch) - 1
        for i, op in ranked:
            batch.append(self._search(tenant, op, query_vectors or {}))
            reads.append((i, len(batch) - 1))
        deferred = [j for j, w in enumerate(writes) if w.query is _sql.INSERT_VECTORS_DEFERRED]
        deferred_at = len(batch) + deferred[0] if deferred else None
        batch.extend(writes)
        if explicit:
            batch.append(Sql(_sql.COMMIT))
        if not self.omit_expired:  # reads admit expired, unswept items
            batch = [replace(sql, query=sql.query.replace(_sql.LIVE, "TRUE")) for sql in batch]

        try:
            results = yield batch
        except psycopg.Error as exc:
            if explicit:  # the transaction is open (failed, or cut short client-side)
                with contextlib.suppress(psycopg.Error):
                    yield [Sql(_sql.ROLLBACK)]
            raise StoreBatchFailed(describe_ops(ops), exc) from exc

        if deferred_at is not None:
            self._deferred(tenant, batch[deferred_at], results[deferred_at])
        out: list[Result] = [None] * len(ops)
        if gets:
            found = {(r[0], r[1]): r for r in results[get_stmt] or []}
            handed: set[tuple[str, str]] = set()
            for i, op in enumerate(ops):
                if isinstance(op, GetOp):
                    k = (ns_path(op.namespace), op.key)
                    if row := found.get(k):
                        # the same key asked twice (two callers gathered into one batch):
                        # each gets a value of its own
                        out[i] = (
                            item_from_row(row)
                            if k not in handed
                            else item_from_row(copy.deepcopy(row))
                        )
                        handed.add(k)
        for i, stmt in reads:
            rows = results[stmt] or []
            if isinstance(op := ops[i], SearchOp):
                out[i] = [search_item_from_row(r, op.offset + n + 1) for n, r in enumerate(rows)]
                self._searched(tenant, op, rows)
            else:
                out[i] = [tuple(r[0]) for r in rows]
        return out

    @staticmethod
    def _window(op: SearchOp) -> int:
        return max(20, op.offset + op.limit) * 2

    def _search(self, tenant: str, op: SearchOp, query_vectors: Mapping[str, Any]) -> Sql:
        params: dict[str, Any] = {
            "tenant": tenant,
            "limit": op.limit,
            "offset": op.offset,
            "refresh": bool(op.refresh_ttl),
        }
        where = [_sql.LIVE, build_filter(op.filter, params)]
        vwhere, prefix = "TRUE", "TRUE"
        params.update(prefix=None, prefix_lo=None, prefix_hi=None)
        if op.namespace_prefix:
            path = ns_path(op.namespace_prefix)
            params.update(prefix=path, prefix_lo=path + ".", prefix_hi=path + "/")
            where.append(_sql.PREFIX)
            vwhere, prefix = _sql.VECTOR_PREFIX, _sql.PREFIX
        condition = " AND ".join(where)
        # Items may carry a per-put ttl even without a TTL config: refresh whenever asked.
        refresh = _sql.REFRESH_FOUND if op.refresh_ttl else ""
        if not op.query:
            return Sql(_sql.search_plain(condition, bool(op.refresh_ttl)), params, fetch=True)
        params.update(
            tscfg=self.text_config,
            qwords=_search.query_words(op.query),
            n=self.collection_sizes.get((tenant, params["prefix"])),
            max_df=_search.BM25_MAX_DF,
            k=self._window(op),
            need=op.offset + op.limit,
        )
        if not self.index:
            return Sql(_search.search_statement(condition, prefix, refresh), params, fetch=True)
        index = self.index
        exact_max = self.exact_search_max if index.ann == "hnsw" else 2**62
        params.update(
            qvec=_vector_text(query_vectors[op.query], index.dims),
            exact_max=exact_max,
            large=(key := _candidate_set(tenant, op)) is not None and key in self.large_sets,
            **_search.fusion_params(self.text_weight, self.text_lead_weight, self.vector_lead),
        )
        statement = _search.search_statement(
            condition, prefix, refresh, dims=index.dims, vector_type=index.vector_type,
            distance_type=index.distance_type, vwhere=vwhere, filtered=bool(op.filter),
        )  # fmt: skip
        return Sql(statement, params, fetch=True)

    def _searched(self, tenant: str, op: SearchOp, rows: Sequence[Sequence[Any]]) -> None:
        """Learn from a query search's row its collection size (`lex_n`, its last column;
        `_search.CollectionSizes`) and, from a hybrid one's gate count (`gate_n`), whether
        its unfiltered candidate set is above the exact bound (`_search.LargeSets`)."""
        if rows and len(rows[0]) > 8:
            prefix = ns_path(op.namespace_prefix) if op.namespace_prefix else None
            self.collection_sizes.note((tenant, prefix), rows[0][-1])
        if rows and len(rows[0]) > 9 and (key := _candidate_set(tenant, op)) is not None:
            self.large_sets.note(key, rows[0][8], self.exact_search_max)

    def _list_namespaces(self, tenant: str, op: ListNamespacesOp) -> Sql:
        params: dict[str, Any] = {
            "tenant": tenant,
            "depth": _ALL_DEPTHS if op.max_depth is None else op.max_depth,
            "limit": op.limit,
            "offset": op.offset,
        }
        parts = ["TRUE"]
        arr = "(string_to_array(s.ns_path, '.'))"
        for n, cond in enumerate(op.match_conditions or ()):
            path = tuple(cond.path)
            if cond.match_type not in ("prefix", "suffix"):
                raise ValueError(f"unsupported match type {cond.match_type!r}")
            if cond.match_type == "prefix" and path and "*" not in path:
                p = f"c{n}"
                params.update({p: ns_path(path), p + "lo": ns_path(path) + ".",
                               p + "hi": ns_path(path) + "/"})  # fmt: skip
                parts.append(
                    f"(s.ns_path = %({p})s OR (s.ns_path >= %({p}lo)s AND s.ns_path < %({p}hi)s))"
                )
                continue
            params[f"c{n}len"] = len(path)
            parts.append(f"cardinality{arr} >= %(c{n}len)s")
            for j, label in enumerate(path):
                if label == "*":
                    continue
                name = f"c{n}_{j}"
                params[name] = label
                if cond.match_type == "prefix":
                    parts.append(f"{arr}[{j + 1}] = %({name})s")
                else:
                    offset = len(path) - j - 1
                    parts.append(f"{arr}[cardinality{arr} - {offset}] = %({name})s")
        query = _sql.LIST_NAMESPACES.replace("{where}", " AND ".join(parts))
        return Sql(query, params, fetch=True)

    def _writes(self, prepared: Prepared, document_vectors: Sequence[Sequence[float]]) -> list[Sql]:
        tenant = prepared.tenant
        order = sorted(prepared.puts, key=lambda k: (ns_path(k[0]), k[1]))
        deletes = [k for k in order if prepared.puts[k].value is None]
        upserts = [k for k in order if prepared.puts[k].value is not None]
        stmts: list[Sql] = []
        params: dict[str, Any]
        if deletes:
            params = {
                "tenant": tenant,
                "ns": [ns_path(k[0]) for k in deletes],
                "keys": [k[1] for k in deletes],
            }
            stmts.append(Sql(_sql.DELETE, params))
        if upserts:
            params = {
                "tenant": tenant,
                "ns": [ns_path(k[0]) for k in upserts],
                "keys": [k[1] for k in upserts],
                "values": [prepared.encoded[k][0] for k in upserts],
                "texts": [prepared.encoded[k][1] for k in upserts],
                "ttls": [_ttl(prepared.puts[k].ttl) for k in upserts],
                "tscfg": self.text_config,
            }
            # with an index, the items' old vectors are deleted by the same statement
            stmts.append(Sql(_sql.UPSERT_CLEARING_VECTORS if self.index else _sql.UPSERT, params))
        if prepared.documents and self.index:
            dims = self.index.dims
            refs = prepared.document_refs
            params = {
                "tenant": tenant,
                "dims": dims,
                "half": self.index.vector_type == "halfvec",
                "ns": [ns_path(k[0]) for k, _ in refs],
                "keys": [k[1] for k, _ in refs],
                "fields": [f for _, f in refs],
                "vecs": [_vector_text(v, dims) for v in document_vectors],
            }
            if self.index_deferred:  # to the backlog, unless it is full (`_backlog`)
                known = self.backlogs.estimate((tenant, dims), len(refs), self.backlog_max)
                params.update(
                    backlog=-1 if known is None else known,
                    backlog_max=self.backlog_max,
                    rows=len(refs),
                )
                stmts.append(Sql(_sql.INSERT_VECTORS_DEFERRED, params, fetch=True))
            else:  # an `exact` store's rows wait in the backlog for an HNSW store's indexer
                params["indexed"] = self.index.ann == "hnsw"
                stmts.append(Sql(_sql.INSERT_VECTORS, params))
        return stmts

    def _deferred(self, tenant: str, sql: Sql, rows: Any) -> None:
        """Learn from a deferred vector insert's row the backlog it saw (`_backlog`)."""
        assert self.index is not None and isinstance(sql.params, Mapping)
        seen, indexed = (rows or [(0, True)])[0]
        deferred = 0 if indexed else int(sql.params["rows"])
        counted = sql.params["backlog"] == -1
        awaited = self.ann_awaited  # the indexer asks for the HNSW build (`build_ann`)
        if awaited:
            self._ann_pending += int(sql.params["rows"])
        self.backlogs.note((tenant, self.index.dims), int(seen), deferred, counted, awaited)

    def index_chunk(
        self, tenant: str, limit: int | None = None, large: bool = False
    ) -> Plan[tuple[int, bool]]:
        """Move a chunk (at most `limit` rows) of `tenant`'s backlog into the HNSW index
        (`_backlog.index_chunk`); a tenant whose vectors are at most `exact_search_max` is
        searched exactly and keeps its rows out."""
        if not self.index_deferred:
            return (0, False)
        assert self.index is not None
        chunk = self.index_chunk_rows if limit is None else min(limit, self.index_chunk_rows)
        return (
            yield from _backlog.index_chunk(
                self.backlogs, tenant, self.index.dims, chunk, self.exact_search_max, large
            )
        )

    def backlog_tenants(self) -> Plan[list[str]]:
        """The tenants `index_backlog()` drains: the one a call acts for, or, for a
        privileged store, every tenant with backlog rows of this store's dims."""
        if not (self.privileged and self.index_deferred):
            return [self.tenant()]
        assert self.index is not None
        results = yield [Sql(_sql.BACKLOG_TENANTS, {"dims": self.index.dims}, fetch=True)]
        return [r[0] for r in results[0] or []]

    # -- maintenance ---------------------------------------------------------------
    def sweep(self, limit: int) -> Plan[int]:
        """Delete up to `limit` expired items of every tenant; returns how many."""
        results = yield [Sql(_sql.SWEEP, {"limit": limit}, fetch=True)]
        return int(results[0][0][0]) if results[0] else 0

    def list_tenants(self) -> Plan[list[str]]:
        """Every tenant with items (privileged stores only)."""
        if not self.privileged:
            raise PrivilegeRequired(
                "listing every tenant needs AlmaStore(..., privileged=True) on a connection "
                "whose role bypasses row-level security"
            )
        results = yield [Sql(_sql.LIST_TENANTS, fetch=True)]
        return [r[0] for r in results[0] or []]

    def setup_plan(self) -> Plan[None]:
        """What depends on this store's configuration, after the migrations: its HNSW
        index, built now unless `store_ann_build_min` defers it (`build_ann`)."""
        if self.has_hnsw:
            yield from self.build_ann()

    @property
    def ann_awaited(self) -> bool:
        """Whether the indexer is to build the HNSW index: not known to exist, and
        deferred to a bound (with bound 0, `setup()` builds it and the indexer never does)."""
        return not self.ann_built and self.ann_build_min > 0

    def ann_build_due(self, asked: bool, idle: bool) -> bool:
        """Whether the indexer should try `build_ann` now: the index is not known to exist,
        and the caller `asked` (`index_backlog()`), or this store wrote a tenth of
        `store_ann_build_min` vectors since the last try, or any and the indexer is `idle`
        (its backlog drained: the count is complete). A try below the bound counts up to
        `store_ann_build_min` rows, so it is not made for every put."""
        if self.ann_built or not (asked or self.ann_awaited):
            return False
        pending = self._ann_pending
        if asked or pending >= max(1, self.ann_build_min // ANN_CHECK_SHARE) or (idle and pending):
            self._ann_pending = 0
            return True
        return False

    def build_ann(self) -> Plan[bool]:
        """Build this store's HNSW index in bulk if at least `store_ann_build_min` of its
        dims' vectors are indexed (past the exact bound); returns whether it exists. Until
        then searches rank those vectors exactly (the HNSW branch scans them) and puts pay
        no HNSW upkeep; once built, it is kept up like PostgresStore's. The build holds
        the connection for its duration, and writes to the vectors wait for it."""
        try:
            results = yield [Sql(_sql.BUILD_ANN, self._ann_params(self.ann_build_min), fetch=True)]
        except psycopg.errors.InsufficientPrivilege:
            # a role without EXECUTE on the function (only alma_app and the owner have
            # it): searches stay exact; `setup()` as the owner builds it
            logger.warning(
                "AlmaStore: this role may not build the HNSW index "
                "(alma_store_build_ann); run setup() as the tables' owner"
            )
            self.ann_built = True  # asked for the last time
            return False
        return self._noted_built(bool(results[0] and results[0][0][0]))

    def build_ann_concurrently(self) -> Plan[bool | None]:
        """`build_ann` on a connection of the admin role (its own, closed after): with
        CREATE INDEX CONCURRENTLY, so writes go on during the build; an invalid index left
        by a build that failed is dropped first. Returns whether the index exists (False
        too while another builder holds the build's lock), or None when the connection's
        role does not own the table (then `build_ann` is the way)."""
        locked = yield [Sql(_sql.BUILD_ANN_LOCK, fetch=True)]
        if not (locked[0] and locked[0][0][0]):
            return False  # another builder holds it: the index is theirs to build
        results = yield [
            Sql(_sql.BUILD_ANN_STATE, self._ann_params(self.ann_build_min), fetch=True)
        ]
        state = results[0]
        owner, valid, enough, drop, create = state[0] if state else (False, None, False, "", "")
        if owner and not valid and enough:
            if valid is not None:
                yield [Sql(drop)]
            yield [Sql(create)]
        # given back at once: the connection's close would, but the server may not have
        # seen it yet when the function path tries the lock next (`build_ann`)
        yield [Sql(_sql.BUILD_ANN_UNLOCK, fetch=True)]
        if not owner:
            return None
        return self._noted_built(bool(valid or enough))

    def _noted_built(self, built: bool) -> bool:
        """Remember that the index exists (once `built`): the indexer's chunks, timed while
        moving a row was a flag flip, probe again (each now costs an HNSW insert)."""
        if built and not self.ann_built:
            self.chunk_sizer.reset()
            self.ann_built = True
        return built

    def _ann_params(self, min_rows: int) -> dict[str, Any]:
        index = self.index
        assert index is not None
        return {
            "dims": index.dims, "vector_type": index.vector_type,
            "distance_type": index.distance_type, "m": index.m,
            "ef_construction": index.ef_construction, "min_rows": min_rows,
        }  # fmt: skip


def _candidate_set(tenant: str, op: SearchOp) -> tuple[str, str | None] | None:
    """The key under which `_search.LargeSets` knows the candidate set of `op`: its
    tenant and prefix; None for a filtered search, whose set is never remembered."""
    if op.filter:
        return None
    return tenant, ns_path(op.namespace_prefix) if op.namespace_prefix else None


def _ttl(ttl: float | None) -> float | None:
    return float(ttl) if ttl is not None else None


def _vector_text(vector: Sequence[float], dims: int) -> str:
    if len(vector) != dims:
        raise ConfigError(f"the embedder returned {len(vector)} dimensions, index dims is {dims}")
    # orjson: the same shortest round-trip digits as json, several times faster (a
    # gathered round sends dozens of vectors)
    return orjson.dumps([float(x) for x in vector]).decode()
