"""Database layer: connections and pools, the embedded server, statement plans and
tenancy. Imports nothing else from the package but `config` and `errors`."""

from langgraph_alma.db.connect import (
    Target,
    aconnect,
    connect,
    create_async_pool,
    create_pool,
    resolve,
)
from langgraph_alma.db.embedded import APP_ROLE, EmbeddedServer, start_embedded

__all__ = [
    "APP_ROLE",
    "EmbeddedServer",
    "Target",
    "aconnect",
    "connect",
    "create_async_pool",
    "create_pool",
    "resolve",
    "start_embedded",
]
