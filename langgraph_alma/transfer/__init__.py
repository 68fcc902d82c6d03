"""Moving a tenant's data in and out: `export_jsonl` / `import_jsonl` (JSON Lines of every
store item and, optionally, every checkpoint thread), and importers from other formats.

`alma_memory` imports databases of the `alma-memory` package into an `Alma`;
`langgraph_postgres` the tables of LangGraph's PostgresSaver / PostgresStore. May import
the services (`memory`: the item layout), the persistence layer (`store`, `checkpoint`),
`db`, `config` and `errors`; the CLI (`alma export`, `alma import`) is a thin shell over it.

>>> with open("acme.jsonl", "w") as f:                             # doctest: +SKIP
...     export_jsonl(store.for_tenant("acme"), saver, f)
>>> import_jsonl(store, saver, "acme.jsonl").total                  # doctest: +SKIP
"""

from langgraph_alma.transfer.jsonl import (
    FORMAT,
    FORMAT_VERSION,
    TransferReport,
    export_jsonl,
    import_jsonl,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "TransferReport", "export_jsonl", "import_jsonl"]
