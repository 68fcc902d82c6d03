"""The saver's plans, for packages that build on its checkpoints (workflow, transfer).

`SaverCore` holds the I/O-free plans `AlmaSaver` drives (`saver.core` is the saver's own);
`ChannelMemory` is its memory of channel values written (delta bases); `PRUNE_BLOBS` is the
statement that deletes the blobs no kept checkpoint of a thread reaches. Run a plan on the
saver's connection with `saver.run(plan)` / `await saver.arun(plan)`.

>>> saver.run(saver.core.threads(limit=10))                          # doctest: +SKIP
"""

from collections.abc import Sequence
from typing import Any

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._compress import unpack_checkpoint
from langgraph_alma.checkpoint._core import SaverCore, ThreadSummary
from langgraph_alma.checkpoint._delta import ChannelMemory

PRUNE_BLOBS: str = _sql.PRUNE_BLOBS
"""Delete a thread's blobs that no kept checkpoint reaches (directly or as the base of a
delta it reads); parameters `tenant`, `thread`. Run it after deleting checkpoints, in the
same transaction, as `SaverCore.prune` and the workflow's checkpoint cleanup do."""


def stored_checkpoint(
    checkpoint_id: str,
    packed: bytes,
    blob_channels: Sequence[str],
    blob_versions: str | None,
) -> dict[str, Any]:
    """The checkpoint (without its id and channel values) a row of `alma_checkpoints`
    stores in its `packed`, `blob_channels` and `blob_versions` columns (migration 0012;
    rows before it hold it in their `checkpoint` jsonb, and a NULL `packed`).

    >>> stored_checkpoint(row.checkpoint_id, row.packed, row.blob_channels,
    ...                   row.blob_versions)["channel_versions"]  # doctest: +SKIP
    """
    return unpack_checkpoint(packed, checkpoint_id, blob_channels, blob_versions)


__all__ = ["PRUNE_BLOBS", "ChannelMemory", "SaverCore", "ThreadSummary", "stored_checkpoint"]
