"""AlmaStore: LangGraph's `BaseStore` on PostgreSQL, with hybrid search, TTL and tenants.

Holds `store.py` (the async shell, and the sync one GENERATED from it by
`scripts/unasync.py`), `_base.py` (what both shells share: configuration, tenancy, the
public seams), `_flavours.py` (what differs by nature: gathering, the sweeper's thread or
task), `_core.py` (validation and statement plans, written once for both), `_sql.py`
(every statement but the query search), `_search.py` (the query search statement: BM25
full text, vectors per `distance_type`, calibrated fusion), `_filters.py` (filters to SQL,
pure), `_checks.py` (input checks and limits, pure), `_batching.py` (the async store
gathering concurrent calls into batches), `_failures.py` (naming and retrying a batch
the database refused) and `_backlog.py` (the HNSW backlog and its indexer). May import
`langgraph_alma.db`, `.config`, `.errors`, `.migrations`, LangGraph and psycopg; nothing
above the persistence layer.

Schema (migrations 0002, 0005): items in `alma_store`, keyed by (tenant_id, dotted
namespace path, key); the path is C-collated text so a namespace prefix is a btree range,
never a `LIKE`. A `tsvector` of the indexed fields' text, built on write with the store's
text search configuration (`english` by default), serves full-text search. Embeddings live
in `alma_store_vectors` (one row per embedded field) in a `vector` (or, for `halfvec`
indexes, `half`) column without a fixed dimension, since dims are only known from
`IndexConfig` at runtime; `setup()` adds a partial HNSW expression index for the store's
dims, vector type and distance (`(embedding::vector(384)) vector_cosine_ops WHERE dims =
384 AND indexed`, built from integers and fixed names only). A query search ranks in one statement
(see `_search`); the vector side ranks a small filtered candidate set
(`exact_search_max`, 2000 by default) exactly and walks HNSW with pgvector's iterative
scan otherwise, so filters do not cost recall. `IndexConfig` may add `"ann": "exact"` (or
`ann_index_config.kind: "flat"`) for no vector index at all: writes are several times
faster, and every vector search ranks its candidates exactly.

HNSW upkeep is off the put path (migration 0013, `_backlog.py`): the HNSW index is
partial (`WHERE dims = 384 AND indexed`), a put writes its vectors with `indexed = false`
(the backlog), searches rank the backlog exactly beside the HNSW walk, and an indexer (a
thread or task the store starts on the first deferred put, or `index_backlog()`) moves it
in, a chunk per transaction. Past `store_index_backlog_max` rows per (tenant, dims) puts
index inline again; a tenant with at most `exact_search_max` vectors stays exact.

Full-text matches come through `alma_store_text_matches()`, a SECURITY DEFINER function
confined to `alma_current_tenant()`: under row-level security PostgreSQL does not use the
GIN index for `@@` (the operator is not leakproof), which made a tenant-wide query scan
every row of the tenant.

Every row carries `tenant_id` and row-level security (policy `tenant_id =
alma_current_tenant()`) confines the application role `alma_app` to the tenant set for
the transaction. A store bound to a tenant raises `TenantMismatch` when a run names
another. Only a `privileged=True` store, connected as a role that bypasses row-level
security (`from_conn_string(privileged=True)` uses the admin URL), may list every tenant.
The TTL sweep runs the `alma_store_sweep(max_items)` SECURITY DEFINER function, which
deletes expired items of every tenant and nothing else, `ALMA_STORE_SWEEP_CHUNK` per
transaction.

>>> from langgraph_alma import AlmaStore
>>> with AlmaStore.from_conn_string(tenant_id="acme") as store:   # doctest: +SKIP
...     store.setup()
...     graph = builder.compile(store=store)
"""

from langgraph_alma.store._core import AlmaSearchItem
from langgraph_alma.store.store import AlmaStore, AsyncAlmaStore, StoreClosed

__all__ = ["AlmaSearchItem", "AlmaStore", "AsyncAlmaStore", "StoreClosed"]
