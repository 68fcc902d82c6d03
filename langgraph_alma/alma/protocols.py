"""What the layers above the facade need of it, as typed protocols: the orchestration
services (`session`, `confidence`) and the prebuilt nodes take any object of these shapes,
an `Alma` (the sync protocols) or an `AsyncAlma` (the async ones) first of all.

- `Retriever` / `AsyncRetriever`: `retrieve(task, agent, ...)` answering a `MemorySlice`
  (the confidence engine reads its evidence through it);
- `Facade` / `AsyncFacade`: retrieval, the store, and the core's project, clock and
  scopes (`FacadeCore`): what a session initializer and the nodes built on a facade use;
- `LearningFacade` / `AsyncLearningFacade`: a `Facade` that also learns (`learn`,
  `learn_from_workflow`), for the `learn` node.

The sync protocols are GENERATED from the async ones by `scripts/unasync.py`: edit those.

>>> def brief(alma: Facade, agent: str) -> str:                     # doctest: +SKIP
...     return alma.retrieve("fix the login test", agent).to_prompt()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from langgraph.store.base import BaseStore

from langgraph_alma.memory.scope import MemoryScope, RetrievalScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import Outcome, WorkflowOutcome
from langgraph_alma.workflow.context import WorkflowContext

if TYPE_CHECKING:
    from langgraph_alma.alma import Alma, AsyncAlma

__all__ = [
    "AsyncFacade",
    "AsyncLearningFacade",
    "AsyncRetriever",
    "Facade",
    "FacadeCore",
    "LearningFacade",
    "Retriever",
]


class FacadeCore(Protocol):
    """What callers read of a facade's `core` (a `MemoryCore`)."""

    @property
    def project_id(self) -> str:
        """The project a call naming none acts on."""

    @property
    def clock(self) -> Callable[[], datetime]:
        """The facade's clock (tests pin it)."""

    def scope_of(self, agent: str) -> MemoryScope:
        """What `agent` may learn."""
        ...


class AsyncRetriever(Protocol):
    """Anything answering `retrieve` as `AsyncAlma.retrieve` does."""

    async def retrieve(
        self,
        task: str,
        agent: str,
        *,
        project_id: str | None = ...,
        user_id: str | None = ...,
        top_k: int = ...,
        context: Any = ...,
        scope: RetrievalScope | str = ...,
        include_workflow_outcomes: bool = ...,
        record_use: bool = ...,
        rank_by_confidence: bool | None = ...,
    ) -> MemorySlice:
        """Memories relevant to `task` for `agent`, best first."""
        ...


class AsyncFacade(AsyncRetriever, Protocol):
    """A facade as the session services and the nodes use it (an `AsyncAlma`)."""

    @property
    def store(self) -> BaseStore:
        """The store its memories live in."""

    @property
    def core(self) -> FacadeCore:
        """Its memory core: project, clock, scopes."""


class AsyncLearningFacade(AsyncFacade, Protocol):
    """A facade that also learns from outcomes (an `AsyncAlma`), for the `learn` node."""

    async def learn(
        self,
        agent: str,
        task: str,
        outcome: str | bool,
        strategy_used: str,
        task_type: str | None = ...,
        *,
        error_message: str | None = ...,
    ) -> Outcome:
        """Record an outcome; learn the heuristic or anti-pattern it supports."""
        ...

    async def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | dict[str, Any],
        cleanup_checkpoints: bool = ...,
        *,
        agent: str | None = ...,
        task_type: str = ...,
    ) -> WorkflowOutcome:
        """Store how a run ended and learn from its patterns."""
        ...


if TYPE_CHECKING:  # mypy checks that the facades have these shapes

    def _conforms(alma: Alma, aalma: AsyncAlma) -> tuple[LearningFacade, AsyncLearningFacade]:
        return alma, aalma


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class Retriever(Protocol):
    """Anything answering `retrieve` as `Alma.retrieve` does."""

    def retrieve(
        self,
        task: str,
        agent: str,
        *,
        project_id: str | None = ...,
        user_id: str | None = ...,
        top_k: int = ...,
        context: Any = ...,
        scope: RetrievalScope | str = ...,
        include_workflow_outcomes: bool = ...,
        record_use: bool = ...,
        rank_by_confidence: bool | None = ...,
    ) -> MemorySlice:
        """Memories relevant to `task` for `agent`, best first."""
        ...


class Facade(Retriever, Protocol):
    """A facade as the session services and the nodes use it (an `Alma`)."""

    @property
    def store(self) -> BaseStore:
        """The store its memories live in."""

    @property
    def core(self) -> FacadeCore:
        """Its memory core: project, clock, scopes."""


class LearningFacade(Facade, Protocol):
    """A facade that also learns from outcomes (an `Alma`), for the `learn` node."""

    def learn(
        self,
        agent: str,
        task: str,
        outcome: str | bool,
        strategy_used: str,
        task_type: str | None = ...,
        *,
        error_message: str | None = ...,
    ) -> Outcome:
        """Record an outcome; learn the heuristic or anti-pattern it supports."""
        ...

    def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | dict[str, Any],
        cleanup_checkpoints: bool = ...,
        *,
        agent: str | None = ...,
        task_type: str = ...,
    ) -> WorkflowOutcome:
        """Store how a run ended and learn from its patterns."""
        ...
