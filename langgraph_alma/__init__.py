"""langgraph-alma: durable, learning agent memory (ALMA) for LangGraph on PostgreSQL.

>>> from langgraph_alma import AlmaSaver
>>> with AlmaSaver.from_conn_string() as saver:     # doctest: +SKIP
...     saver.setup()
...     graph = builder.compile(checkpointer=saver)
"""

from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver, SaverClosed
from langgraph_alma.config import Settings, get_settings
from langgraph_alma.errors import (
    AlmaError,
    ConfigError,
    EmbeddedServerError,
    MigrationError,
    StateTooLarge,
    TenantMismatch,
    TenantRequired,
    ThreadIdRequired,
)

__all__ = [
    "AlmaError",
    "AlmaSaver",
    "AsyncAlmaSaver",
    "ConfigError",
    "EmbeddedServerError",
    "MigrationError",
    "SaverClosed",
    "Settings",
    "StateTooLarge",
    "TenantMismatch",
    "TenantRequired",
    "ThreadIdRequired",
    "get_settings",
]
