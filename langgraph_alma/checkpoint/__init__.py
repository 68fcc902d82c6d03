"""Checkpoints: `AlmaSaver` / `AsyncAlmaSaver`, LangGraph checkpointers on PostgreSQL.

May import `db`, `config`, `errors` and `migrations`; nothing above it.
"""

from langgraph_alma.checkpoint.plans import ChannelMemory, SaverCore, ThreadSummary
from langgraph_alma.checkpoint.saver import AlmaSaver, AsyncAlmaSaver, SaverClosed

__all__ = [
    "AlmaSaver",
    "AsyncAlmaSaver",
    "ChannelMemory",
    "SaverClosed",
    "SaverCore",
    "ThreadSummary",
]
