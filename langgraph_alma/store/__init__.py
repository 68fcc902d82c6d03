"""AlmaStore: LangGraph's `BaseStore` on PostgreSQL, with hybrid search, TTL and tenants.

Holds `store.py` (the sync and async shells), `_core.py` (validation and statement plans,
written once for both), `_sql.py` (every statement), `_filters.py` (filters to SQL,
pure), `_checks.py` (input checks and limits, pure), `_batching.py` (the async store
gathering concurrent calls into batches) and `_failures.py` (naming and retrying a batch
the database refused). May import `langgraph_alma.db`, `.config`, `.errors`,
`.migrations`, LangGraph and psycopg; nothing above the persistence layer.

Schema (migration 0002): items in `alma_store`, keyed by (tenant_id, dotted namespace
path, key); the path is C-collated text so a namespace prefix is a btree range, never a
`LIKE`. A generated `tsvector` over the indexed fields' text serves full-text search.
Embeddings live in `alma_store_vectors` (one row per embedded field) in a `vector` column
without a fixed dimension, since dims are only known from `IndexConfig` at runtime;
`setup()` adds a partial HNSW expression index for the store's dims
(`(embedding::vector(384)) vector_cosine_ops WHERE dims = 384`, built from the integer
only). A query search fuses vector and full-text ranks by reciprocal rank fusion in one
statement; the vector side ranks a small filtered candidate set (`exact_search_max`,
2000 by default) exactly and walks HNSW with pgvector's iterative scan otherwise, so
filters do not cost recall. `IndexConfig` may add `"ann": "exact"` for no vector index at
all: writes are several times faster, and every vector search ranks its candidates
exactly (right for namespace-scoped searches; tenant-wide ones scan the tenant).

Known limit: under row-level security PostgreSQL does not use the GIN index for `@@`
(the operator is not leakproof), so the full-text side scans the namespace range (cheap)
or, for a tenant-wide query search, the tenant's rows.

Every row carries `tenant_id` and row-level security (policy `tenant_id =
alma_current_tenant()`) confines the application role `alma_app` to the tenant set for
the transaction. A store bound to a tenant raises `TenantMismatch` when a run names
another. Only a `privileged=True` store, connected as a role that bypasses row-level
security (`from_conn_string(privileged=True)` uses the admin URL), may list every tenant.
The TTL sweep runs the `alma_store_sweep()` SECURITY DEFINER function, which deletes
expired items of every tenant and nothing else.

>>> from langgraph_alma import AlmaStore
>>> with AlmaStore.from_conn_string(tenant_id="acme") as store:   # doctest: +SKIP
...     store.setup()
...     graph = builder.compile(store=store)
"""

from langgraph_alma.store._core import AlmaSearchItem
from langgraph_alma.store.store import AlmaStore, AsyncAlmaStore, StoreClosed

__all__ = ["AlmaSearchItem", "AlmaStore", "AsyncAlmaStore", "StoreClosed"]
