"""`RuleBasedExtractor`: an offline, deterministic fallback for when no LLM is configured.

It reads a transcript sentence by sentence and applies a few phrase patterns; the first
pattern that matches a sentence wins, so one sentence yields at most one memory. It is
meant to catch explicit statements ("never X, because Y", "I prefer X"), not to understand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langgraph_alma.extraction.base import (
    UNKNOWN_USER,
    ExtractionResult,
    Transcript,
    render_transcript,
)
from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    Memory,
    Outcome,
    UserPreference,
)

_I = re.IGNORECASE
_ROLE_LINE = re.compile(r"^\s*(user|human|assistant|ai|system|tool)\s*:\s*(.*)$", _I)
_ROLE_ALIASES = {"human": "user", "ai": "assistant"}
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+")
_FILLER = re.compile(r"^(?:(?:also|and|so|ok|okay|oh|btw|but|note)\b,?\s*)+", _I)
_PRONOUNS = {"it", "that", "this"}

_ANTI_BECAUSE = re.compile(
    r"^(?:please\s+)?(?:never|don't|do not|avoid)\s+(?P<pattern>.+?),?\s+because\s+(?P<why>.+)$", _I
)
_CAUSED = re.compile(r"^(?P<pattern>.+?)\s+(?P<effect>(?:caused|causes|led to)\s+.+)$", _I)
_WHEN = re.compile(
    r"^(?:when|whenever)\s+(?P<condition>[^,]+),\s*(?:then\s+)?(?P<strategy>.+)$", _I
)
_TRIED = re.compile(
    r"^(?:(?:i|we)\s+)?tried\s+(?P<strategy>.+?),?\s+and\s+(?:it|that)\s+"
    r"(?P<verdict>worked|succeeded|failed|did not work|didn't work)"
    r"(?:\s+because\s+(?P<why>.+))?$",
    _I,
)
_FIXED = re.compile(
    r"^(?P<strategy>.+?)\s+(?:fixed|solved|resolved)\s+(?:it|this|that|the\s+.+)$", _I
)
_FAILED_BECAUSE = re.compile(r"^(?P<subject>.+?)\s+failed\s+because\s+(?P<why>.+)$", _I)
_PREFER = re.compile(r"^i(?:\s+prefer|'d prefer|\s+would prefer)\s+(?P<what>.+)$", _I)
_ALWAYS_NEVER = re.compile(r"^(?:please\s+)?(?P<rule>(?:always|never)\s+.+)$", _I)
_DONT_USE = re.compile(r"^(?:please\s+)?(?:don't|do not)\s+use\s+(?P<what>.+)$", _I)
_FACT = re.compile(
    r"^(?P<subject>[a-z][\w.'/-]*(?:\s+[\w.'/-]+){0,3}?)\s+"
    r"(?P<verb>is|are|uses|requires|returns|expects|supports|runs on)\s+(?P<rest>.+)$",
    _I,
)
# Subjects that make "X is Y" chatter, not a fact about the domain.
_NOT_A_SUBJECT = {
    *_PRONOUNS,
    *"i we you he she they there here what which who everything something nothing".split(),
}
_ARTICLES = re.compile(r"^(?:the|a|an|our|your|this)\s+", _I)

# First keyword found decides a preference's category; the order breaks ties.
_PREFERENCE_CATEGORIES = (
    (
        "code_style",
        ("indent", "tab", "spaces", "naming", "type hint", "format", "style", "docstring"),
    ),
    (
        "communication",
        ("answer", "reply", "explain", "concise", "verbose", "summar", "emoji", "tone"),
    ),
    ("tools", ("use ", "library", "framework", "tool", "pytest", "npm", "pip ")),
)


@dataclass(frozen=True)
class _Sentence:
    role: str | None  # None when the transcript names no role (read as the user's words)
    text: str
    previous: str | None  # the sentence before, for "that failed because ..."

    @property
    def from_user(self) -> bool:
        return self.role in (None, "user")


def sentences(text: str) -> Iterator[_Sentence]:
    """The transcript's sentences with their speaker; unprefixed lines continue the last one."""
    role: str | None = None
    previous: str | None = None
    for line in text.splitlines():
        if m := _ROLE_LINE.match(line):
            role = _ROLE_ALIASES.get(m[1].lower(), m[1].lower())
            line = m[2]
        for raw in _SENTENCE_BREAK.split(line):
            sentence = _FILLER.sub("", raw.strip()).rstrip(" .!;").strip()
            if sentence:
                yield _Sentence(role, sentence, previous)
                previous = sentence


def preference_category(preference: str) -> str:
    lowered = f"{preference.lower()} "
    for category, words in _PREFERENCE_CATEGORIES:
        if any(w in lowered for w in words):
            return category
    return "general"


def _domain(subject: str) -> str:
    return _ARTICLES.sub("", subject).lower()


@dataclass(frozen=True)
class _Stamp:
    """Who the memories are about: what every rule puts on the memory it makes."""

    agent: str | None
    user_id: str

    @property
    def fields(self) -> dict[str, Any]:
        return {"agent": self.agent, "metadata": {"extracted_by": "rules"}}


_Rule = Callable[[_Sentence, _Stamp], Memory | None]


def _anti_because(s: _Sentence, at: _Stamp) -> Memory | None:
    if m := _ANTI_BECAUSE.match(s.text):
        return AntiPattern(pattern=m["pattern"], why_bad=m["why"], **at.fields)
    return None


def _when(s: _Sentence, at: _Stamp) -> Memory | None:
    if m := _WHEN.match(s.text):
        # stated, not yet validated by outcomes: even odds until the learning service counts
        return Heuristic(
            condition=m["condition"], strategy=m["strategy"], confidence=0.5, **at.fields
        )
    return None


def _tried(s: _Sentence, at: _Stamp) -> Memory | None:
    if m := _TRIED.match(s.text):
        success = m["verdict"].lower() in ("worked", "succeeded")
        return Outcome(
            task_description=s.text,
            strategy_used=m["strategy"],
            success=success,
            error_message=m["why"],
            **at.fields,
        )
    return None


def _fixed(s: _Sentence, at: _Stamp) -> Memory | None:
    if (m := _FIXED.match(s.text)) and m["strategy"].lower() not in _PRONOUNS:
        return Outcome(
            task_description=s.text, strategy_used=m["strategy"], success=True, **at.fields
        )
    return None


def _failed_because(s: _Sentence, at: _Stamp) -> Memory | None:
    if not (m := _FAILED_BECAUSE.match(s.text)):
        return None
    strategy, description = m["subject"], s.text
    if strategy.lower() in _PRONOUNS and s.previous:  # "that failed": what failed came before
        strategy, description = s.previous, f"{s.previous}. {s.text}"
    return Outcome(
        task_description=description,
        strategy_used=strategy,
        success=False,
        error_message=m["why"],
        **at.fields,
    )


def _caused(s: _Sentence, at: _Stamp) -> Memory | None:
    if (m := _CAUSED.match(s.text)) and m["pattern"].lower() not in _PRONOUNS:
        return AntiPattern(pattern=m["pattern"], why_bad=m["effect"], **at.fields)
    return None


def _preference(s: _Sentence, at: _Stamp) -> Memory | None:
    if not s.from_user:
        return None
    if m := _PREFER.match(s.text):
        preference = f"prefer {m['what']}"
    elif m := _DONT_USE.match(s.text):
        preference = f"do not use {m['what']}"
    elif m := _ALWAYS_NEVER.match(s.text):
        preference = m["rule"]
    else:
        return None
    return UserPreference(
        category=preference_category(preference),
        preference=preference,
        source="explicit_instruction",
        user_id=at.user_id,
        **at.fields,
    )


def _fact(s: _Sentence, at: _Stamp) -> Memory | None:
    if not s.from_user or s.text.endswith("?"):
        return None
    m = _FACT.match(s.text)
    if not m or m["subject"].split()[0].lower() in _NOT_A_SUBJECT:
        return None
    return DomainKnowledge(
        domain=_domain(m["subject"]), fact=s.text, source="user_stated", **at.fields
    )


# Order matters: "never X, because Y" is an anti-pattern before it is a preference, and
# outcomes ("X fixed it") before facts ("X is Y").
_RULES: tuple[_Rule, ...] = (
    _anti_because,
    _when,
    _tried,
    _fixed,
    _failed_because,
    _caused,
    _preference,
    _fact,
)


_TASK_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$")
_TASK_SPLIT = re.compile(r"(?:;|\band then\b|\bthen\b|\. )", re.IGNORECASE)


def split_tasks(prompt: str) -> list[str]:
    """Work item titles in a request: its bullet or numbered lines, else its clauses
    ("do X; then Y"), else the request itself. Deterministic.

    >>> split_tasks("1. add login\\n2. test login")
    ['add login', 'test login']
    """
    bullets = [m.group(1).strip() for line in prompt.splitlines() if (m := _TASK_LINE.match(line))]
    if bullets:
        return bullets
    clauses = [c.strip(" .\n") for c in _TASK_SPLIT.split(prompt) if c and c.strip(" .\n")]
    return clauses or ([prompt.strip()] if prompt.strip() else [])


class RuleBasedExtractor:
    """Extracts explicitly stated memories with phrase patterns; no network, deterministic.

    >>> result = RuleBasedExtractor().extract("user: Please never use mocks", user_id="u1")
    >>> result.preferences[0].preference
    'never use mocks'
    """

    def __repr__(self) -> str:
        return "RuleBasedExtractor()"

    def extract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """`Extractor.extract` by phrase patterns: only what is stated outright."""
        at = _Stamp(agent, user_id or UNKNOWN_USER)
        result = ExtractionResult()
        buckets: dict[type[Memory], list[Any]] = {
            Heuristic: result.heuristics,
            AntiPattern: result.anti_patterns,
            UserPreference: result.preferences,
            DomainKnowledge: result.domain_knowledge,
            Outcome: result.outcomes,
        }
        seen: set[tuple[type[Memory], str]] = set()
        for sentence in sentences(render_transcript(transcript)):
            for rule in _RULES:
                memory = rule(sentence, at)
                if memory is None:
                    continue
                key = (type(memory), memory.search_text().lower())
                if key not in seen:  # the same statement repeated is one memory
                    seen.add(key)
                    buckets[type(memory)].append(memory)
                break
        return result

    async def aextract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """Async `extract` (the same work: no I/O)."""
        # pure CPU work of microseconds: not worth a thread
        return self.extract(transcript, agent=agent, user_id=user_id)

    def expand_tasks(self, prompt: str) -> list[str]:
        """The work items of a request, by `split_tasks`."""
        return split_tasks(prompt)

    async def aexpand_tasks(self, prompt: str) -> list[str]:
        """Async `expand_tasks`."""
        return split_tasks(prompt)
