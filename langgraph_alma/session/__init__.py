"""Session handoff: what one agent session leaves for the next, and the context a new
session starts from (previous handoff, progress, focus, carried blockers, memories),
persisted in a LangGraph store, sync and async over one set of store plans."""

from langgraph_alma.session.core import SessionCore, SessionNotFound
from langgraph_alma.session.initializer import (
    AsyncSessionInitializer,
    CodebaseOrientation,
    InitializationResult,
    RulesOfEngagement,
    SessionInitializer,
)
from langgraph_alma.session.manager import AsyncSessionManager, SessionManager
from langgraph_alma.session.models import (
    MAX_DECISIONS,
    RULES_OF_ENGAGEMENT,
    SessionContext,
    SessionHandoff,
)

__all__ = [
    "MAX_DECISIONS",
    "RULES_OF_ENGAGEMENT",
    "AsyncSessionInitializer",
    "AsyncSessionManager",
    "CodebaseOrientation",
    "InitializationResult",
    "RulesOfEngagement",
    "SessionInitializer",
    "SessionContext",
    "SessionCore",
    "SessionHandoff",
    "SessionManager",
    "SessionNotFound",
]
