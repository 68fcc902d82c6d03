"""Progress tracking: work items with status, priority and dependencies, persisted in a
LangGraph store (`("alma", project, "work_item")`), sync and async over one set of store
plans."""

from langgraph_alma.progress.core import (
    DependencyCycle,
    InvalidTransition,
    ProgressCore,
    ProgressError,
    WorkItemNotFound,
)
from langgraph_alma.progress.models import (
    TRANSITIONS,
    ProgressLog,
    ProgressSummary,
    WorkItem,
    WorkStatus,
)
from langgraph_alma.progress.tracker import AsyncProgressTracker, ProgressTracker

__all__ = [
    "TRANSITIONS",
    "AsyncProgressTracker",
    "DependencyCycle",
    "InvalidTransition",
    "ProgressCore",
    "ProgressError",
    "ProgressLog",
    "ProgressSummary",
    "ProgressTracker",
    "WorkItem",
    "WorkItemNotFound",
    "WorkStatus",
]
