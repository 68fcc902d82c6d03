"""`SessionInitializer`: turn a user's prompt into work items, look at the codebase,
recall what the agent learned and the rules it works under, and recommend where to start.
`SessionInitializer` is GENERATED from `AsyncSessionInitializer` by `scripts/unasync.py`:
edit the async class only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.progress import AsyncProgressTracker, ProgressTracker, WorkItem
from langgraph_alma.progress.rules import ProgressError
from langgraph_alma.session.briefing import (
    InitializationResult,
    RulesOfEngagement,
    expand_prompt,
    initialization_result,
    item_type_of,
    rules_of_engagement,
    work_item_id,
)
from langgraph_alma.session.codebase import CodebaseOrientation, orient
from langgraph_alma.session.manager import AsyncSessionManager, SessionManager

if TYPE_CHECKING:
    from langgraph_alma.alma.protocols import AsyncFacade, Facade

# The result types and the pure pieces live in `briefing` and `codebase`; they stay
# importable from here, as before.
__all__ = [
    "AsyncSessionInitializer",
    "CodebaseOrientation",
    "InitializationResult",
    "RulesOfEngagement",
    "SessionInitializer",
    "expand_prompt",
    "item_type_of",
    "orient",
    "rules_of_engagement",
    "work_item_id",
]


def _extractor(configured: Any) -> Any:
    from langgraph_alma.extraction import default_extractor

    return configured or default_extractor()


class AsyncSessionInitializer:
    """`AsyncSessionInitializer`: initializes a session for an agent on top of an
    `AsyncAlma`: opens a session (`AsyncSessionManager`), turns the prompt into work items
    (once per `key`, e.g. the thread), recalls what the agent learned (past workflow runs
    included), the rules it works under, and recommends where to start.

    >>> await AsyncSessionInitializer(alma).initialize("shop", "helena", "1. add login")
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        alma: AsyncFacade,
        tracker: AsyncProgressTracker | None = None,
        extractor: Any = None,
        codebase_path: str | Path | None = None,
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        # The LLM expands prompts when one is configured; rules otherwise.
        self.extractor = extractor or getattr(alma, "extractor", None)
        self.codebase_path = codebase_path

    def _tracker(self, project_id: str) -> AsyncProgressTracker:
        if self.tracker is not None:
            return self.tracker
        return AsyncProgressTracker(
            self.alma.store, project_id=project_id, clock=self.alma.core.clock
        )

    def _sessions(self, project_id: str) -> AsyncSessionManager:
        return AsyncSessionManager(
            self.alma.store, project_id=project_id, clock=self.alma.core.clock
        )

    async def _titles(self, user_prompt: str, auto_expand: bool) -> list[str]:
        if not user_prompt or not user_prompt.strip():
            raise ValueError("user_prompt must not be empty")
        if not auto_expand:
            return [user_prompt.strip()]
        titles = await _extractor(self.extractor).aexpand_tasks(user_prompt)
        return list(titles or [user_prompt.strip()])

    async def _expand(
        self, user_prompt: str, domain: Any, auto_expand: bool = True
    ) -> list[WorkItem]:
        titles = await self._titles(user_prompt, auto_expand)
        domain = domain if domain is not None else getattr(self.alma, "domain", None)
        if isinstance(domain, str):
            from langgraph_alma.domains import DomainMemoryFactory

            domain = DomainMemoryFactory.get_preset(domain)
        return [
            WorkItem(
                title=t,
                description=user_prompt,
                item_type=item_type_of(t, domain),
                priority=max(1, 90 - 10 * i),
                project_id=self.alma.core.project_id,
            )
            for i, t in enumerate(titles)
        ]

    async def initialize(
        self,
        project_id: str,
        agent: str,
        user_prompt: str,
        auto_expand: bool = True,
        codebase_path: str | Path | None = None,
        *,
        key: str | None = None,
        context: Any = None,
    ) -> InitializationResult:
        """The session's start; with `key`, a rerun finds the work items it made before."""
        planned = await self._expand(user_prompt, None, auto_expand)
        tracker, sessions = self._tracker(project_id), self._sessions(project_id)
        opened = await sessions.start_session(project_id, agent)
        existing: dict[str, WorkItem] = {}
        if key is not None:
            existing = {w.id: w for w in await tracker.list_items(project_id)}
        items = []
        for i, w in enumerate(planned):
            item_id = work_item_id(project_id, key, i, w.title) if key is not None else None
            if item_id is not None and item_id in existing:
                items.append(existing[item_id])
                continue
            fields = {
                "description": w.description,
                "item_type": w.item_type,
                "priority": w.priority,
                "agent": agent,
                "project_id": project_id,
                "item_id": item_id,
            }
            try:
                made = await tracker.create_work_item(w.title, **fields)
            except ProgressError as exc:
                if item_id is None:
                    raise
                # Another run of the same session made it first.
                first = await tracker.get_item(item_id, project_id)
                if first is None:
                    raise exc
                made = first
            items.append(made)
        found = await self.alma.retrieve(
            user_prompt,
            agent=agent,
            project_id=project_id,
            context=context,
            include_workflow_outcomes=True,
        )
        path = codebase_path if codebase_path is not None else self.codebase_path
        orientation = await asyncio.to_thread(orient, path) if path else None
        recommended = await tracker.get_next_item(project_id, agent=agent)
        return initialization_result(
            self.alma,
            project_id,
            agent,
            user_prompt,
            items,
            recommended,
            found,
            orientation,
            opened,
        )

    async def expand_prompt(self, user_prompt: str, domain: Any = None) -> list[WorkItem]:
        """The prompt as work items (not saved), typed by `domain` (a schema or preset
        name; default the Alma's): "feature", "bug", "test" or "task"."""
        return await self._expand(user_prompt, domain)

    async def orient_to_codebase(self, project_id: str | None = None) -> CodebaseOrientation:
        """Branch, changed files, recent commits and layout of the codebase (the
        `codebase_path` given at construction, else the working directory)."""
        return await asyncio.to_thread(orient, self.codebase_path or ".")

    def get_rules_of_engagement(
        self, agent: str, scope: MemoryScope | None = None
    ) -> RulesOfEngagement:
        """The rules `agent` works under (its scope's, or `scope`'s, and the domain's)."""
        return rules_of_engagement(self.alma, agent, scope)


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class SessionInitializer:
    """`SessionInitializer`: initializes a session for an agent on top of an
    `Alma`: opens a session (`SessionManager`), turns the prompt into work items
    (once per `key`, e.g. the thread), recalls what the agent learned (past workflow runs
    included), the rules it works under, and recommends where to start.

    >>> SessionInitializer(alma).initialize("shop", "helena", "1. add login")
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        alma: Facade,
        tracker: ProgressTracker | None = None,
        extractor: Any = None,
        codebase_path: str | Path | None = None,
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        # The LLM expands prompts when one is configured; rules otherwise.
        self.extractor = extractor or getattr(alma, "extractor", None)
        self.codebase_path = codebase_path

    def _tracker(self, project_id: str) -> ProgressTracker:
        if self.tracker is not None:
            return self.tracker
        return ProgressTracker(self.alma.store, project_id=project_id, clock=self.alma.core.clock)

    def _sessions(self, project_id: str) -> SessionManager:
        return SessionManager(self.alma.store, project_id=project_id, clock=self.alma.core.clock)

    def _titles(self, user_prompt: str, auto_expand: bool) -> list[str]:
        if not user_prompt or not user_prompt.strip():
            raise ValueError("user_prompt must not be empty")
        if not auto_expand:
            return [user_prompt.strip()]
        titles = _extractor(self.extractor).expand_tasks(user_prompt)
        return list(titles or [user_prompt.strip()])

    def _expand(self, user_prompt: str, domain: Any, auto_expand: bool = True) -> list[WorkItem]:
        titles = self._titles(user_prompt, auto_expand)
        domain = domain if domain is not None else getattr(self.alma, "domain", None)
        if isinstance(domain, str):
            from langgraph_alma.domains import DomainMemoryFactory

            domain = DomainMemoryFactory.get_preset(domain)
        return [
            WorkItem(
                title=t,
                description=user_prompt,
                item_type=item_type_of(t, domain),
                priority=max(1, 90 - 10 * i),
                project_id=self.alma.core.project_id,
            )
            for i, t in enumerate(titles)
        ]

    def initialize(
        self,
        project_id: str,
        agent: str,
        user_prompt: str,
        auto_expand: bool = True,
        codebase_path: str | Path | None = None,
        *,
        key: str | None = None,
        context: Any = None,
    ) -> InitializationResult:
        """The session's start; with `key`, a rerun finds the work items it made before."""
        planned = self._expand(user_prompt, None, auto_expand)
        tracker, sessions = self._tracker(project_id), self._sessions(project_id)
        opened = sessions.start_session(project_id, agent)
        existing: dict[str, WorkItem] = {}
        if key is not None:
            existing = {w.id: w for w in tracker.list_items(project_id)}
        items = []
        for i, w in enumerate(planned):
            item_id = work_item_id(project_id, key, i, w.title) if key is not None else None
            if item_id is not None and item_id in existing:
                items.append(existing[item_id])
                continue
            fields = {
                "description": w.description,
                "item_type": w.item_type,
                "priority": w.priority,
                "agent": agent,
                "project_id": project_id,
                "item_id": item_id,
            }
            try:
                made = tracker.create_work_item(w.title, **fields)
            except ProgressError as exc:
                if item_id is None:
                    raise
                # Another run of the same session made it first.
                first = tracker.get_item(item_id, project_id)
                if first is None:
                    raise exc
                made = first
            items.append(made)
        found = self.alma.retrieve(
            user_prompt,
            agent=agent,
            project_id=project_id,
            context=context,
            include_workflow_outcomes=True,
        )
        path = codebase_path if codebase_path is not None else self.codebase_path
        orientation = orient(path) if path else None
        recommended = tracker.get_next_item(project_id, agent=agent)
        return initialization_result(
            self.alma,
            project_id,
            agent,
            user_prompt,
            items,
            recommended,
            found,
            orientation,
            opened,
        )

    def expand_prompt(self, user_prompt: str, domain: Any = None) -> list[WorkItem]:
        """The prompt as work items (not saved), typed by `domain` (a schema or preset
        name; default the Alma's): "feature", "bug", "test" or "task"."""
        return self._expand(user_prompt, domain)

    def orient_to_codebase(self, project_id: str | None = None) -> CodebaseOrientation:
        """Branch, changed files, recent commits and layout of the codebase (the
        `codebase_path` given at construction, else the working directory)."""
        return orient(self.codebase_path or ".")

    def get_rules_of_engagement(
        self, agent: str, scope: MemoryScope | None = None
    ) -> RulesOfEngagement:
        """The rules `agent` works under (its scope's, or `scope`'s, and the domain's)."""
        return rules_of_engagement(self.alma, agent, scope)
