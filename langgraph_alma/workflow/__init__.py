"""The workflow layer: where work runs (`WorkflowContext`), how far retrieval reaches
(`RetrievalScope`), node checkpoints numbered by the database (`CheckpointManager`), and
the plans for workflow outcomes and artifacts (`WorkflowCore`).

Imports the persistence layer (saver plans) and `memory`; `Alma` drives it.

>>> ctx = WorkflowContext(tenant_id="acme", workflow_id="checkout", run_id="run-42")
>>> alma.checkpoint(ctx, "plan", {"steps": 3})                      # doctest: +SKIP
"""

from langgraph_alma.memory.scope import RetrievalScope
from langgraph_alma.workflow.checkpoints import (
    CheckpointConflict,
    CheckpointManager,
    CheckpointRecord,
)
from langgraph_alma.workflow.context import WorkflowContext
from langgraph_alma.workflow.core import MemoryNotFound, WorkflowCore

__all__ = [
    "CheckpointConflict",
    "CheckpointManager",
    "CheckpointRecord",
    "MemoryNotFound",
    "RetrievalScope",
    "WorkflowContext",
    "WorkflowCore",
]
