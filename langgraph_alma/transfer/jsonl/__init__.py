"""A tenant's data as JSON Lines: export, and idempotent, all-or-nothing import.

The first line is a header (`format`, `version`, `tenant`, `exported_at` and how many
records follow); then one record a line:

- `{"kind": "item", "namespace": [...], "key", "value", "created_at", "updated_at",
  "ttl_minutes", "index"}`: a store item (`index` says which fields its full-text search
  covered: `false`, a list of paths, or null for the store's default);
- `{"kind": "checkpoint", "thread_id", "checkpoint_ns", "checkpoint_id",
  "parent_checkpoint_id", "scope", "checkpoint", "metadata", "channels", "values",
  "appends", "writes"}`: one checkpoint, oldest first per thread. As in the saver, only
  what changed since the parent is written: `values` holds changed channel values,
  `appends` the new tail of a list that grew (`keep` elements of the parent's list kept),
  each serialized by the saver's own serializer (`{"type", "data": base64}`).

Import validates every line before anything is written (a bad line raises
`TransferError` naming it), then writes everything in one transaction, through the
store's and the saver's own plans, so it lands whole or not at all. Store items are
upserts keyed by (namespace, key) and checkpoints by id, so importing a file twice leaves
the same data. Vectors are not exported: the importing store embeds values again (when it
has an index), as it does on every put.

Modules: `records` (the format, value encoding, validation), `export`, `load` (import),
`sql` (the statements, as plans).
"""

from langgraph_alma.transfer.jsonl.export import export_jsonl
from langgraph_alma.transfer.jsonl.load import import_jsonl
from langgraph_alma.transfer.jsonl.records import (
    FORMAT,
    FORMAT_VERSION,
    TransferReport,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "TransferReport", "export_jsonl", "import_jsonl"]
