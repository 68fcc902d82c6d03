"""`SessionInitializer`: turn a user's prompt into work items, look at the codebase,
recall what the agent learned and the rules it works under, and recommend where to start.
`SessionInitializer` is GENERATED from `AsyncSessionInitializer` by `scripts/unasync.py`:
edit the async class only.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from langgraph_alma.extraction.rules import split_tasks
from langgraph_alma.memory.learning import stable_key
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import new_id, utcnow
from langgraph_alma.progress import AsyncProgressTracker, ProgressTracker, WorkItem
from langgraph_alma.progress.core import ProgressError
from langgraph_alma.session.manager import AsyncSessionManager, SessionManager
from langgraph_alma.session.models import RULES_OF_ENGAGEMENT, SessionContext, SessionHandoff


class CodebaseOrientation(BaseModel):
    """What git says about a working tree (`error` when it could not be read)."""

    path: str
    branch: str | None = None
    changed_files: list[str] = Field(default_factory=list)
    recent_commits: list[str] = Field(default_factory=list)
    layout: list[str] = Field(default_factory=list)
    error: str | None = None


class RulesOfEngagement(BaseModel):
    """What an agent works under: its scope's and domain's rules, constraints and gates."""

    scope_rules: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    quality_gates: list[str] = Field(default_factory=list)


class InitializationResult(BaseModel):
    """Everything an agent needs before its first step, with the PRD's fields:
    `session_id`, `goal`, `work_items`, `recommended_start`, `relevant_memories` (a
    `MemorySlice`), `scope_rules`, `constraints`, `quality_gates`. `recommended`, `rules`
    and `memories` (the slice as prompt text) are our older names."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(default_factory=new_id)
    session_id: str | None = None
    project_id: str
    agent: str
    goal: str
    work_items: list[WorkItem] = Field(default_factory=list)
    recommended_start: WorkItem | None = Field(
        default=None, validation_alias=AliasChoices("recommended_start", "recommended")
    )
    orientation: CodebaseOrientation | None = None
    relevant_memories: MemorySlice = Field(default_factory=MemorySlice)
    scope_rules: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("scope_rules", "rules")
    )
    constraints: list[str] = Field(default_factory=list)
    quality_gates: list[str] = Field(default_factory=list)
    previous_handoff: SessionHandoff | None = None
    initialized_at: datetime = Field(default_factory=utcnow)

    @property
    def recommended(self) -> WorkItem | None:
        return self.recommended_start

    @property
    def rules(self) -> list[str]:
        return self.scope_rules

    @property
    def memories(self) -> str:
        """The relevant memories as prompt text."""
        return self.relevant_memories.to_prompt(max_tokens=800)

    def to_prompt(self) -> str:
        """The result as a compact system prompt."""
        parts = [f"Goal: {self.goal}"]
        if self.recommended_start:
            parts.append(f"Start with: {self.recommended_start.title}")
        if self.work_items:
            parts.append("Work items:\n" + "\n".join(f"- {w.title}" for w in self.work_items))
        prev = self.previous_handoff
        if prev is not None and (prev.summary or prev.next_steps or prev.blockers):
            lines = [f"Last session: {prev.summary or prev.last_action or '(no summary)'}"]
            lines += [f"- next: {x}" for x in prev.next_steps]
            lines += [f"- blocker: {x}" for x in prev.blockers]
            parts.append("\n".join(lines))
        for title, lines in (
            ("Rules", self.scope_rules),
            ("Constraints", self.constraints),
            ("Quality gates", self.quality_gates),
        ):
            if lines:
                parts.append(f"{title}:\n" + "\n".join(f"- {x}" for x in lines))
        if self.orientation and not self.orientation.error:
            o = self.orientation
            parts.append(
                f"Codebase: branch {o.branch}, {len(o.changed_files)} changed files, "
                f"top level {', '.join(o.layout[:10])}"
            )
        if memories := self.memories:
            parts.append(memories)
        return "\n\n".join(parts)


def expand_prompt(prompt: str) -> list[str]:
    """Work item titles in a prompt, deterministically (`extraction.rules.split_tasks`).

    >>> expand_prompt("1. add login\\n2. test login")
    ['add login', 'test login']
    """
    return split_tasks(prompt)


def orient(path: str | Path, commits: int = 5) -> CodebaseOrientation:
    """Branch, changed files, recent commits and top-level layout, read with git;
    outside a repository (or without git) the result says why instead of raising."""
    root = Path(path)

    def git(*args: str) -> list[str]:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return [line for line in done.stdout.splitlines() if line.strip()]

    try:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        return CodebaseOrientation(
            path=str(root),
            branch=branch[0] if branch else None,
            changed_files=[line[3:] for line in git("status", "--porcelain")],
            recent_commits=git("log", f"-{commits}", "--oneline") if branch else [],
            layout=sorted({p.split("/")[0] for p in git("ls-files")}),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        reason = getattr(exc, "stderr", None) or str(exc)
        return CodebaseOrientation(path=str(root), error=str(reason).strip()[:200])


_TYPE_WORDS = (
    ("bug", ("fix", "bug", "broken", "error", "crash", "flaky", "regression", "fails")),
    ("test", ("test", "tests", "coverage", "verify")),
    ("feature", ("add", "implement", "build", "create", "support", "new")),
)


def item_type_of(title: str, domain: Any = None) -> str:
    """A work item's type from its words (bug, test, feature), kept when the domain
    declares that entity type (or names none); "task" otherwise."""
    words = set(title.lower().replace(",", " ").split())
    guess = next((t for t, cue in _TYPE_WORDS if words & set(cue)), "task")
    declared = {e.name for e in getattr(domain, "entity_types", None) or []}
    return guess if not declared or guess in declared else "task"


def _extractor(configured: Any) -> Any:
    from langgraph_alma.extraction import default_extractor

    return configured or default_extractor()


def rules_of_engagement(
    alma: Any, agent: str, scope: MemoryScope | None = None
) -> RulesOfEngagement:
    """The rules an agent works under, from its `MemoryScope` (default: the one `alma`
    gives it) and `alma`'s domain."""
    scope = scope or alma.core.scope_of(agent)
    rules = []
    if scope.can_learn:
        rules.append(f"Learn only about: {', '.join(scope.can_learn)}")
    if scope.cannot_learn:
        rules.append(f"Never learn about: {', '.join(scope.cannot_learn)}")
    domain = getattr(alma, "domain", None)
    if domain is not None:
        rules.append(f"Work within the {domain.name} domain")
    rules += list(RULES_OF_ENGAGEMENT)
    gates = ["Each work item ends in review or done, never silently dropped"]
    if domain is not None and domain.name == "coding":
        gates.append("Tests for a work item pass before it is done")
    return RulesOfEngagement(scope_rules=rules, quality_gates=gates)


def _result(
    alma: Any,
    project_id: str,
    agent: str,
    prompt: str,
    items: list[WorkItem],
    recommended: WorkItem | None,
    found: MemorySlice,
    orientation: CodebaseOrientation | None,
    opened: SessionContext,
) -> InitializationResult:
    """Rules, constraints and gates from the agent's scope, its domain and its memories."""
    rules = rules_of_engagement(alma, agent)
    constraints = [f"Avoid: {a.pattern} ({a.why_bad})" for a in found.anti_patterns]
    constraints += [f"User prefers: {p.preference}" for p in found.preferences]
    constraints += [f"Carried blocker: {b}" for b in opened.blockers]
    gates = list(rules.quality_gates)
    test_gate = "Tests for a work item pass before it is done"
    if any(w.tests for w in items) and test_gate not in gates:
        gates.append(test_gate)
    gates += [f"Prefer: {h.strategy} (confidence {h.confidence:.0%})" for h in found.heuristics[:3]]
    return InitializationResult(
        session_id=opened.session_id,
        project_id=project_id,
        agent=agent,
        goal=prompt.strip(),
        work_items=items,
        recommended_start=recommended,
        orientation=orientation,
        relevant_memories=found,
        scope_rules=rules.scope_rules,
        constraints=constraints,
        quality_gates=gates,
        previous_handoff=opened.previous_handoff,
    )


def work_item_id(project_id: str, key: str, index: int, title: str) -> str:
    """The id of the `index`-th work item a session keyed `key` (a thread) creates: the
    same key and title always name the same item, so a rerun creates nothing new."""
    return stable_key("w", project_id, key, str(index), title)


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
        alma: Any,
        tracker: Any = None,
        extractor: Any = None,
        codebase_path: str | Path | None = None,
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        # The LLM expands prompts when one is configured; rules otherwise.
        self.extractor = extractor or getattr(alma, "extractor", None)
        self.codebase_path = codebase_path

    def _tracker(self, project_id: str) -> Any:
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
                made = await tracker.get_item(item_id, project_id)
                if made is None:
                    raise exc
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
        return _result(
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
        alma: Any,
        tracker: Any = None,
        extractor: Any = None,
        codebase_path: str | Path | None = None,
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        # The LLM expands prompts when one is configured; rules otherwise.
        self.extractor = extractor or getattr(alma, "extractor", None)
        self.codebase_path = codebase_path

    def _tracker(self, project_id: str) -> Any:
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
                made = tracker.get_item(item_id, project_id)
                if made is None:
                    raise exc
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
        return _result(
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
