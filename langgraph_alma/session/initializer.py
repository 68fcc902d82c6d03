"""`SessionInitializer`: turn a user's prompt into work items, look at the codebase,
recall what the agent learned and the rules it works under, and recommend where to start.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from langgraph_alma.extraction.rules import split_tasks
from langgraph_alma.progress import AsyncProgressTracker, ProgressTracker, WorkItem


class CodebaseOrientation(BaseModel):
    """What git says about a working tree (`error` when it could not be read)."""

    path: str
    branch: str | None = None
    changed_files: list[str] = Field(default_factory=list)
    recent_commits: list[str] = Field(default_factory=list)
    layout: list[str] = Field(default_factory=list)
    error: str | None = None


class InitializationResult(BaseModel):
    """Everything an agent needs before its first step."""

    project_id: str
    agent: str
    goal: str
    work_items: list[WorkItem] = Field(default_factory=list)
    recommended: WorkItem | None = None
    orientation: CodebaseOrientation | None = None
    memories: str = ""
    rules: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    quality_gates: list[str] = Field(default_factory=list)

    def to_prompt(self) -> str:
        """The result as a compact system prompt."""
        parts = [f"Goal: {self.goal}"]
        if self.recommended:
            parts.append(f"Start with: {self.recommended.title}")
        if self.work_items:
            parts.append("Work items:\n" + "\n".join(f"- {w.title}" for w in self.work_items))
        for title, lines in (
            ("Rules", self.rules),
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
        if self.memories:
            parts.append(self.memories)
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


def _titles(prompt: str, auto_expand: bool) -> list[str] | None:
    """The titles when they need no call (None: ask the extractor)."""
    if not prompt or not prompt.strip():
        raise ValueError("user_prompt must not be empty")
    return None if auto_expand else [prompt.strip()]


def _extractor(configured: Any) -> Any:
    from langgraph_alma.extraction import default_extractor

    return configured or default_extractor()


def _result(
    alma: Any,
    project_id: str,
    agent: str,
    prompt: str,
    items: list[WorkItem],
    recommended: WorkItem | None,
    found: Any,
    orientation: CodebaseOrientation | None,
) -> InitializationResult:
    """Rules, constraints and gates from the agent's scope, its domain and its memories."""
    scope = alma.core.scope_of(agent)
    rules = []
    if scope.can_learn:
        rules.append(f"Learn only about: {', '.join(scope.can_learn)}")
    if scope.cannot_learn:
        rules.append(f"Never learn about: {', '.join(scope.cannot_learn)}")
    domain = getattr(alma, "domain", None)
    if domain is not None:
        rules.append(f"Work within the {domain.name} domain")
    constraints = [f"Avoid: {a.pattern} ({a.why_bad})" for a in found.anti_patterns]
    constraints += [f"User prefers: {p.preference}" for p in found.preferences]
    gates = ["Each work item ends in review or done, never silently dropped"]
    if any(w.tests for w in items) or (domain is not None and domain.name == "coding"):
        gates.append("Tests for a work item pass before it is done")
    gates += [f"Prefer: {h.strategy} (confidence {h.confidence:.0%})" for h in found.heuristics[:3]]
    return InitializationResult(
        project_id=project_id,
        agent=agent,
        goal=prompt.strip(),
        work_items=items,
        recommended=recommended,
        orientation=orientation,
        memories=found.to_prompt(max_tokens=800),
        rules=rules,
        constraints=constraints,
        quality_gates=gates,
    )


def _item_kwargs(agent: str, project_id: str, prompt: str, i: int) -> dict[str, Any]:
    return {
        "agent": agent,
        "project_id": project_id,
        "priority": max(1, 90 - 10 * i),
        "description": prompt,
    }


class SessionInitializer:
    """Initializes a session for an agent on top of `Alma` and a `ProgressTracker`.

    >>> SessionInitializer(alma).initialize("shop", "helena", "1. add login\\n2. test it")
    ... # doctest: +SKIP
    """

    def __init__(
        self, alma: Any, tracker: ProgressTracker | None = None, extractor: Any = None
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        # The LLM expands prompts when one is configured; rules otherwise.
        self.extractor = extractor or getattr(alma, "extractor", None)

    def initialize(
        self,
        project_id: str,
        agent: str,
        user_prompt: str,
        auto_expand: bool = True,
        codebase_path: str | Path | None = None,
    ) -> InitializationResult:
        titles = _titles(user_prompt, auto_expand)
        if titles is None:
            titles = _extractor(self.extractor).expand_tasks(user_prompt) or [user_prompt.strip()]
        tracker = self.tracker or ProgressTracker(
            self.alma.store, project_id=project_id, clock=self.alma.core.clock
        )
        items = [
            tracker.create_work_item(t, **_item_kwargs(agent, project_id, user_prompt, i))
            for i, t in enumerate(titles)
        ]
        found = self.alma.retrieve(user_prompt, agent=agent, project_id=project_id)
        return _result(
            self.alma,
            project_id,
            agent,
            user_prompt,
            items,
            tracker.get_next_item(project_id, agent=agent),
            found,
            orient(codebase_path) if codebase_path else None,
        )


class AsyncSessionInitializer:
    """`SessionInitializer` over an `AsyncAlma` and an `AsyncProgressTracker`."""

    def __init__(
        self, alma: Any, tracker: AsyncProgressTracker | None = None, extractor: Any = None
    ) -> None:
        self.alma = alma
        self.tracker = tracker
        self.extractor = extractor or getattr(alma, "extractor", None)

    async def initialize(
        self,
        project_id: str,
        agent: str,
        user_prompt: str,
        auto_expand: bool = True,
        codebase_path: str | Path | None = None,
    ) -> InitializationResult:
        titles = _titles(user_prompt, auto_expand)
        if titles is None:
            expanded = await _extractor(self.extractor).aexpand_tasks(user_prompt)
            titles = expanded or [user_prompt.strip()]
        tracker = self.tracker or AsyncProgressTracker(
            self.alma.store, project_id=project_id, clock=self.alma.core.clock
        )
        items = [
            await tracker.create_work_item(t, **_item_kwargs(agent, project_id, user_prompt, i))
            for i, t in enumerate(titles)
        ]
        found = await self.alma.retrieve(user_prompt, agent=agent, project_id=project_id)
        orientation = await asyncio.to_thread(orient, codebase_path) if codebase_path else None
        return _result(
            self.alma,
            project_id,
            agent,
            user_prompt,
            items,
            await tracker.get_next_item(project_id, agent=agent),
            found,
            orientation,
        )
