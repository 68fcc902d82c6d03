"""`RuleBasedExtractor` on hand-written transcripts, and `default_extractor`'s choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import SecretStr

from langgraph_alma.config import Settings
from langgraph_alma.errors import ConfigError
from langgraph_alma.extraction import (
    UNKNOWN_USER,
    ExtractionResult,
    Extractor,
    OpenAIExtractor,
    RuleBasedExtractor,
    default_extractor,
    render_transcript,
)
from langgraph_alma.memory.types import Memory

# The fields a rule decides; the rest (ids, timestamps, scope) are the caller's or defaults.
SHOWN = {
    "Heuristic": ("condition", "strategy", "confidence"),
    "AntiPattern": ("pattern", "why_bad", "better_alternative"),
    "UserPreference": ("user_id", "category", "preference", "source"),
    "DomainKnowledge": ("domain", "fact", "source"),
    "Outcome": ("task_description", "strategy_used", "success", "error_message"),
}


def shown(result: ExtractionResult) -> list[tuple[Any, ...]]:
    def one(m: Memory) -> tuple[Any, ...]:
        name = type(m).__name__
        return (name, *(getattr(m, f) for f in SHOWN[name]))

    return [one(m) for m in result.memories]


def test_text_transcript() -> None:
    transcript = """\
user: I prefer tabs over spaces. Please never use mocks in tests!
Don't use requests, because it blocks the event loop.
assistant: I tried clearing the cache and it worked.
assistant: I ran the migration with --fake. That failed because the table already existed.
user: When a form test is flaky, wait for the network to go idle.
The billing API uses cursor pagination. That is great. Pinning numpy fixed the build.
Running tests in parallel caused deadlocks.
"""
    result = RuleBasedExtractor().extract(transcript, agent="helena", user_id="u1")
    assert shown(result) == [
        ("Heuristic", "a form test is flaky", "wait for the network to go idle", 0.5),
        ("AntiPattern", "use requests", "it blocks the event loop", ""),
        ("AntiPattern", "Running tests in parallel", "caused deadlocks", ""),
        ("UserPreference", "u1", "code_style", "prefer tabs over spaces", "explicit_instruction"),
        ("UserPreference", "u1", "tools", "never use mocks in tests", "explicit_instruction"),
        (
            "DomainKnowledge",
            "billing api",
            "The billing API uses cursor pagination",
            "user_stated",
        ),
        ("Outcome", "I tried clearing the cache and it worked", "clearing the cache", True, None),
        (
            "Outcome",
            "I ran the migration with --fake. That failed because the table already existed",
            "I ran the migration with --fake",
            False,
            "the table already existed",
        ),
        ("Outcome", "Pinning numpy fixed the build", "Pinning numpy", True, None),
    ]
    assert all(m.agent == "helena" for m in result.memories)
    assert all(m.metadata == {"extracted_by": "rules"} for m in result.memories)


def test_message_transcript_respects_roles() -> None:
    messages = [
        SystemMessage("The assistant is helpful."),  # system: no facts from the prompt
        HumanMessage("Please always answer in English. We tried retries and it failed"),
        AIMessage("I prefer to be brief. The cache is stale."),  # not the user's preferences/facts
        ToolMessage("pytest is installed", tool_call_id="t1"),
        HumanMessage(
            "Never deploy on Fridays, because nobody is around.\n"
            "Also the staging DB runs on port 5433?"  # a question is not a fact
        ),
        HumanMessage("Please always answer in English."),  # repeated: one memory
    ]
    result = RuleBasedExtractor().extract(messages)
    assert shown(result) == [
        ("AntiPattern", "deploy on Fridays", "nobody is around", ""),
        (
            "UserPreference",
            UNKNOWN_USER,
            "communication",
            "always answer in English",
            "explicit_instruction",
        ),
        ("Outcome", "We tried retries and it failed", "retries", False, None),
    ]


def test_nothing_to_extract() -> None:
    extractor = RuleBasedExtractor()
    assert extractor.extract("").is_empty
    assert extractor.extract([]).is_empty
    assert extractor.extract("user: hi! how are you? It is sunny. That fixed it.").is_empty


async def test_async_matches_sync() -> None:
    text = "user: I'd prefer concise answers. When CI is red, read the first failure."
    extractor = RuleBasedExtractor()
    sync, asynced = extractor.extract(text), await extractor.aextract(text)
    assert (
        shown(sync)
        == shown(asynced)
        == [
            ("Heuristic", "CI is red", "read the first failure", 0.5),
            (
                "UserPreference",
                UNKNOWN_USER,
                "communication",
                "prefer concise answers",
                "explicit_instruction",
            ),
        ]
    )


def test_render_transcript() -> None:
    messages = [
        HumanMessage("hi"),
        AIMessage("", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "1"}]),
    ]
    assert render_transcript(messages) == 'user: hi\nassistant: [calls search({"q": "x"})]'
    with pytest.raises(TypeError, match="got dict"):
        render_transcript({"role": "user"})  # type: ignore[arg-type]


@pytest.fixture
def no_openai_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key or endpoint from the environment or a config file of the developer's."""
    for var in ("OPENAI_API_KEY", "ALMA_OPENAI_API_KEY", "OPENAI_BASE_URL", "ALMA_OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALMA_CONFIG", str(tmp_path / "absent.yaml"))


@pytest.mark.usefixtures("no_openai_config")
def test_default_extractor_without_key() -> None:
    extractor = default_extractor()
    assert isinstance(extractor, RuleBasedExtractor) and isinstance(extractor, Extractor)


@pytest.mark.usefixtures("no_openai_config")
@pytest.mark.parametrize("var", ["OPENAI_API_KEY", "ALMA_OPENAI_API_KEY"])
def test_default_extractor_with_key(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "sk-test")
    monkeypatch.setenv("ALMA_EXTRACTION_MODEL", "gpt-test")
    monkeypatch.setenv("ALMA_OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    extractor = default_extractor()
    assert isinstance(extractor, OpenAIExtractor) and isinstance(extractor, Extractor)
    assert extractor.model == "gpt-test"
    assert extractor.client.api_key == "sk-test"  # made lazily; no request is sent
    assert str(extractor.client.base_url) == "http://127.0.0.1:1/v1/"


def test_default_extractor_from_explicit_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert isinstance(default_extractor(Settings(openai_api_key=None)), RuleBasedExtractor)
    extractor = default_extractor(Settings(openai_api_key=SecretStr("sk-given")))
    assert isinstance(extractor, OpenAIExtractor)
    assert extractor.client.api_key == "sk-given"


def test_default_extractor_without_openai_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "langgraph_alma.extraction.openai", None)  # import fails
    with pytest.raises(ConfigError, match=r"install langgraph-alma\[openai\]"):
        default_extractor(Settings(openai_api_key=SecretStr("sk-test")))
