"""langgraph-alma: durable, learning agent memory (ALMA) for LangGraph on PostgreSQL.

>>> from langgraph_alma import AlmaSaver
>>> with AlmaSaver.from_conn_string() as saver:     # doctest: +SKIP
...     saver.setup()
...     graph = builder.compile(checkpointer=saver)
"""

from langgraph_alma.alma import Alma, AlmaConfig, AsyncAlma
from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver, SaverClosed
from langgraph_alma.config import Settings, get_settings
from langgraph_alma.errors import (
    AlmaError,
    ConfigError,
    EmbeddedServerError,
    InvalidFilter,
    InvalidValue,
    MigrationError,
    PrivilegeRequired,
    StateTooLarge,
    TenantMismatch,
    TenantRequired,
    ThreadIdRequired,
    ValueTooLarge,
)
from langgraph_alma.memory import MemoryScope, RetrievalScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.store import AlmaStore, AsyncAlmaStore, StoreClosed
from langgraph_alma.workflow import WorkflowContext

__all__ = [
    "Alma",
    "AlmaConfig",
    "AsyncAlma",
    "MemoryScope",
    "MemorySlice",
    "RetrievalScope",
    "WorkflowContext",
    "AlmaError",
    "AlmaSaver",
    "AlmaStore",
    "AsyncAlmaSaver",
    "AsyncAlmaStore",
    "ConfigError",
    "EmbeddedServerError",
    "InvalidFilter",
    "InvalidValue",
    "MigrationError",
    "PrivilegeRequired",
    "SaverClosed",
    "Settings",
    "StateTooLarge",
    "StoreClosed",
    "TenantMismatch",
    "TenantRequired",
    "ThreadIdRequired",
    "ValueTooLarge",
    "get_settings",
]
