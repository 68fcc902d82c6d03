"""`OpenAIExtractor`: memories from a transcript by an OpenAI (or OpenAI-compatible) chat
model, with structured output validated strictly by pydantic.

The request builder and the response parser are pure functions shared by `extract` and
`aextract`; only the client call differs (`OpenAI` vs `AsyncOpenAI`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from langgraph_alma.errors import ConfigError, ExtractionError, MissingExtra
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
    Outcome,
    UserPreference,
)

try:
    import openai
except ModuleNotFoundError as exc:  # an optional extra: say which, not just "no module"
    raise MissingExtra("OpenAIExtractor", "openai", exc.name) from exc

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 60.0


def _not_blank(value: str) -> str:
    # A blank memory is useless and usually means the model filled a slot it had nothing for;
    # checked here rather than in the schema because strict mode ignores `minLength`.
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Text = Annotated[str, AfterValidator(_not_blank)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0, description="0 = a guess, 1 = certain.")]


class _Strict(BaseModel):
    # extra="forbid" gives `additionalProperties: false` and no defaults keeps every field
    # `required`: both are what OpenAI's strict structured output demands of a schema.
    model_config = ConfigDict(extra="forbid")


class LLMHeuristic(_Strict):
    condition: Text = Field(description="The situation, e.g. 'a form test is flaky'.")
    strategy: Text = Field(description="What to do then, e.g. 'wait for the network to idle'.")
    confidence: Confidence
    task_type: str | None = Field(description="Kind of task it applies to, or null.")


class LLMAntiPattern(_Strict):
    pattern: Text = Field(description="What not to do.")
    why_bad: Text = Field(description="What went wrong when it was done.")
    better_alternative: str = Field(description="What to do instead; empty if unknown.")
    task_type: str | None


class LLMPreference(_Strict):
    category: Text = Field(description="e.g. code_style, communication, tools, workflow.")
    preference: Text
    source: Literal["explicit_instruction", "inferred"]
    confidence: Confidence


class LLMDomainKnowledge(_Strict):
    domain: Text = Field(description="Short subject area, e.g. 'billing api'.")
    fact: Text
    confidence: Confidence


class LLMOutcome(_Strict):
    task_type: Text
    task_description: Text
    success: bool
    strategy_used: Text
    error_message: str | None
    user_feedback: str | None


class LLMExtraction(_Strict):
    """What the model must return: one list per memory category, each possibly empty."""

    heuristics: list[LLMHeuristic]
    anti_patterns: list[LLMAntiPattern]
    preferences: list[LLMPreference]
    domain_knowledge: list[LLMDomainKnowledge]
    outcomes: list[LLMOutcome]


SYSTEM_PROMPT = """\
You extract durable memories for an AI agent from a conversation or run transcript.
Return only what will help in future tasks; skip small talk, one-off details and guesses.
Categories (each list may be empty):
- heuristics: reusable rules "when <condition>, do <strategy>" that worked or were stated.
- anti_patterns: things that failed or were forbidden: the pattern, why it is bad, and a
  better alternative when one is known.
- preferences: the user's stated or clearly implied preferences and constraints (style,
  tools, communication). source = explicit_instruction if they said it, else inferred.
- domain_knowledge: facts about the systems, APIs, data or domain (not strategies).
- outcomes: tasks attempted in the transcript: what was tried, whether it succeeded, the
  error if it failed, and the user's feedback if any.
Keep each text short and self-contained (no "it"/"that" without a referent).
Use confidence 1.0 for what the user stated, lower for what you infer."""

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "alma_extraction",
        "strict": True,
        "schema": LLMExtraction.model_json_schema(),
    },
}


class LLMTaskList(_Strict):
    """What the model must return when expanding a request into work items."""

    tasks: list[Text]


TASKS_PROMPT = """\
You split a user's request to an AI agent into the work items it takes, in the order to do
them. Each item is a short imperative title (at most 12 words), self-contained. Do not add
work the request does not ask for; a request that is one task gives one item."""

TASKS_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "alma_tasks",
        "strict": True,
        "schema": LLMTaskList.model_json_schema(),
    },
}


def build_tasks_request(model: str, prompt: str) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create` for one task expansion."""
    return {
        "model": model,
        "temperature": 0,
        "response_format": TASKS_FORMAT,
        "messages": [
            {"role": "system", "content": TASKS_PROMPT},
            {"role": "user", "content": f"Request:\n<<<\n{prompt}\n>>>"},
        ],
    }


def build_request(model: str, transcript_text: str) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create` for one extraction."""
    return {
        "model": model,
        # extraction, not writing: the same transcript should give the same memories
        "temperature": 0,
        "response_format": RESPONSE_FORMAT,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Transcript:\n<<<\n{transcript_text}\n>>>"},
        ],
    }


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<root>"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def parse_output(
    content: str, model: str, schema: type[Any] = LLMExtraction, what: str = "extraction"
) -> Any:
    """The model's JSON content, validated against `schema`; any defect is an
    `ExtractionError`."""
    try:
        json.loads(content)  # first, so malformed JSON gets its own message
    except json.JSONDecodeError as exc:
        raise ExtractionError(
            f"the model returned malformed JSON ({exc}): {content[:200]!r}", model=model
        ) from exc
    try:
        # strict JSON mode: a "0.9" where a number belongs is the model ignoring the schema
        return schema.model_validate_json(content, strict=True)
    except ValidationError as exc:
        raise ExtractionError(
            f"the model's JSON does not match the {what} schema: {_first_error(exc)}",
            model=model,
        ) from exc


def parse_response(
    completion: Any, model: str, *, agent: str | None, user_id: str | None
) -> ExtractionResult:
    """An `ExtractionResult` from a chat completion, or an `ExtractionError` saying why not."""
    content = response_content(completion, model)
    return to_result(parse_output(content, model), model, agent=agent, user_id=user_id)


def response_content(completion: Any, model: str) -> str:
    """The text of a chat completion's answer, or an `ExtractionError` saying why none."""
    if not getattr(completion, "choices", None):
        raise ExtractionError("the response has no choices", model=model)
    choice = completion.choices[0]
    message = choice.message
    if getattr(message, "refusal", None):
        raise ExtractionError(f"the model refused: {message.refusal}", model=model)
    if choice.finish_reason == "length":
        raise ExtractionError("the output was cut off at the token limit", model=model)
    if choice.finish_reason == "content_filter":
        raise ExtractionError("the output was withheld by the content filter", model=model)
    if not message.content:
        raise ExtractionError("the response has no content", model=model)
    return str(message.content)


def to_result(
    out: LLMExtraction, model: str, *, agent: str | None, user_id: str | None
) -> ExtractionResult:
    """Typed memories from validated output. Occurrence counts stay 0: one transcript is
    evidence, and counting occurrences is the learning service's job."""
    meta = {"extracted_by": f"openai:{model}"}
    common: dict[str, Any] = {"agent": agent, "metadata": meta}
    return ExtractionResult(
        heuristics=[Heuristic(**h.model_dump(), **common) for h in out.heuristics],
        anti_patterns=[AntiPattern(**a.model_dump(), **common) for a in out.anti_patterns],
        preferences=[
            UserPreference(**p.model_dump(), user_id=user_id or UNKNOWN_USER, **common)
            for p in out.preferences
        ],
        domain_knowledge=[
            DomainKnowledge(**d.model_dump(), source="llm_extraction", **common)
            for d in out.domain_knowledge
        ],
        outcomes=[Outcome(**o.model_dump(), **common) for o in out.outcomes],
    )


@contextmanager
def _api_errors(model: str) -> Iterator[None]:
    """SDK failures (HTTP status, connection, timeout) as `ExtractionError`."""
    try:
        yield
    except openai.APIStatusError as exc:
        raise ExtractionError(
            f"the API answered HTTP {exc.status_code}: {exc.message}", model=model
        ) from exc
    except openai.APIError as exc:  # connection errors, timeouts, undecodable responses
        raise ExtractionError(
            f"the API call failed: {type(exc).__name__}: {exc}", model=model
        ) from exc


class OpenAIExtractor:
    """Extracts memories with an OpenAI chat model and structured output.

    >>> extractor = OpenAIExtractor(api_key="sk-...")                         # doctest: +SKIP
    >>> extractor.extract(messages, agent="helena", user_id="u1").heuristics  # doctest: +SKIP

    Pass `client`/`async_client` to reuse configured SDK clients; otherwise each is made on
    first use from `api_key`, `base_url`, `timeout` and `max_retries` (the SDK falls back to
    `OPENAI_API_KEY`/`OPENAI_BASE_URL`).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        client: openai.OpenAI | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        async_client: openai.AsyncOpenAI | None = None,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self._client_kwargs: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        if client is not None:
            self.__dict__["client"] = client  # pre-fills the cached_property
        if async_client is not None:
            self.__dict__["async_client"] = async_client

    def __repr__(self) -> str:
        return f"OpenAIExtractor(model={self.model!r})"

    @cached_property
    def client(self) -> openai.OpenAI:
        return self._make_client(openai.OpenAI)

    @cached_property
    def async_client(self) -> openai.AsyncOpenAI:
        return self._make_client(openai.AsyncOpenAI)

    def _make_client(self, cls: Any) -> Any:
        try:
            return cls(**self._client_kwargs)
        except openai.OpenAIError as exc:  # no key given and none in the environment
            raise ConfigError(f"cannot create the OpenAI client: {exc}") from exc

    def extract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """`Extractor.extract` with one chat completion (structured output); an empty
        transcript costs no call. API or parsing failures raise `ExtractionError`."""
        text = render_transcript(transcript)
        if not text.strip():
            return ExtractionResult()  # nothing to learn; don't pay for a call
        with _api_errors(self.model):
            completion = self.client.chat.completions.create(**build_request(self.model, text))
        return parse_response(completion, self.model, agent=agent, user_id=user_id)

    async def aextract(
        self, transcript: Transcript, *, agent: str | None = None, user_id: str | None = None
    ) -> ExtractionResult:
        """Async `extract`."""
        text = render_transcript(transcript)
        if not text.strip():
            return ExtractionResult()
        with _api_errors(self.model):
            completion = await self.async_client.chat.completions.create(
                **build_request(self.model, text)
            )
        return parse_response(completion, self.model, agent=agent, user_id=user_id)

    def expand_tasks(self, prompt: str) -> list[str]:
        """The work items a request takes, in order (one call, structured output)."""
        if not prompt.strip():
            return []
        with _api_errors(self.model):
            completion = self.client.chat.completions.create(
                **build_tasks_request(self.model, prompt)
            )
        content = response_content(completion, self.model)
        return parse_output(content, self.model, LLMTaskList, "task list").tasks

    async def aexpand_tasks(self, prompt: str) -> list[str]:
        """Async `expand_tasks`."""
        if not prompt.strip():
            return []
        with _api_errors(self.model):
            completion = await self.async_client.chat.completions.create(
                **build_tasks_request(self.model, prompt)
            )
        content = response_content(completion, self.model)
        return parse_output(content, self.model, LLMTaskList, "task list").tasks
