"""What every extractor is: the `Extractor` protocol, its `ExtractionResult`, and how a
transcript (text or LangChain messages) becomes the text an extractor reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    Memory,
    Outcome,
    UserPreference,
)

Transcript = str | Sequence[BaseMessage]
"""A conversation or run transcript: plain text, or the messages of a LangGraph thread."""

UNKNOWN_USER = "unknown"
"""`UserPreference.user_id` when the caller names no user (the field is required)."""

# LangChain's message types, named the way chat transcripts usually name roles.
_ROLE_NAMES = {"human": "user", "ai": "assistant"}


class ExtractionResult(BaseModel):
    """The memories one transcript yields, unscoped beyond `agent` and `user_id`.

    >>> result = extractor.extract("user: I prefer tabs", user_id="u1")  # doctest: +SKIP
    >>> result.preferences[0].preference, result.is_empty                 # doctest: +SKIP
    ('prefer tabs', False)
    """

    model_config = ConfigDict(extra="forbid")

    heuristics: list[Heuristic] = Field(default_factory=list)
    anti_patterns: list[AntiPattern] = Field(default_factory=list)
    preferences: list[UserPreference] = Field(default_factory=list)
    domain_knowledge: list[DomainKnowledge] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when nothing was extracted."""
        return not self.memories

    @property
    def memories(self) -> list[Memory]:
        """Every memory, in category order, ready for the caller to scope and store."""
        return [
            *self.heuristics,
            *self.anti_patterns,
            *self.preferences,
            *self.domain_knowledge,
            *self.outcomes,
        ]


@runtime_checkable
class Extractor(Protocol):
    """Turns a transcript into memories, and a request into work items.

    >>> result = extractor.extract(messages, agent="helena", user_id="u1")  # doctest: +SKIP
    >>> result = await extractor.aextract("user: never use mocks")          # doctest: +SKIP
    >>> extractor.expand_tasks("add a login form, then test it")            # doctest: +SKIP
    """

    def extract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """The memories a transcript (a string or LangChain messages) states; preferences
        are `user_id`'s, the rest `agent`'s. Raises `ExtractionError` on failure."""

    async def aextract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """Async `extract`."""

    def expand_tasks(self, prompt: str) -> list[str]:
        """The work items a request asks for, in order."""

    async def aexpand_tasks(self, prompt: str) -> list[str]:
        """Async `expand_tasks`."""


def message_role(message: BaseMessage) -> str:
    return _ROLE_NAMES.get(message.type, message.type)


def render_message(message: BaseMessage) -> str:
    """One message as `role: content`; an assistant's tool calls are part of what it did."""
    parts: list[str] = [str(message.text)] if message.text else []
    if isinstance(message, AIMessage):
        parts += [
            f"[calls {call['name']}({json.dumps(call['args'], sort_keys=True)})]"
            for call in message.tool_calls
        ]
    return f"{message_role(message)}: {' '.join(parts)}"


def render_transcript(transcript: Transcript) -> str:
    """The transcript as text, one `role: content` line per message.

    >>> render_transcript([HumanMessage("hi"), AIMessage("hello")])  # doctest: +SKIP
    'user: hi\\nassistant: hello'
    """
    if isinstance(transcript, str):
        return transcript
    if isinstance(transcript, Sequence):
        messages = [m for m in transcript if isinstance(m, BaseMessage)]
        if len(messages) == len(transcript):
            return "\n".join(map(render_message, messages))
    raise TypeError(
        "transcript must be a str or a sequence of langchain_core BaseMessage; "
        f"got {type(transcript).__name__}"
    )
