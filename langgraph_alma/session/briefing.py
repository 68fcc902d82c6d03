"""What a session initializer hands an agent (`InitializationResult`), and the pure pieces
it is built from: work item titles and types, ids stable across reruns, and the rules,
constraints and gates the agent works under. No I/O: `initializer` drives it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from langgraph_alma.extraction.rules import split_tasks
from langgraph_alma.memory.learning import stable_key
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import new_id, utcnow
from langgraph_alma.progress import WorkItem
from langgraph_alma.session.codebase import CodebaseOrientation
from langgraph_alma.session.models import RULES_OF_ENGAGEMENT, SessionContext, SessionHandoff

if TYPE_CHECKING:
    from langgraph_alma.alma.protocols import AsyncFacade, Facade


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


def rules_of_engagement(
    alma: Facade | AsyncFacade, agent: str, scope: MemoryScope | None = None
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


def initialization_result(
    alma: Facade | AsyncFacade,
    project_id: str,
    agent: str,
    prompt: str,
    items: list[WorkItem],
    recommended: WorkItem | None,
    found: MemorySlice,
    orientation: CodebaseOrientation | None,
    opened: SessionContext,
) -> InitializationResult:
    """The initializer's answer: its rules, constraints and gates from the agent's scope,
    its domain and its memories."""
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
