"""Expanding a request into work items: OpenAI structured output over a local endpoint,
or the deterministic rules."""

from __future__ import annotations

import json

import pytest

from langgraph_alma.errors import ExtractionError
from langgraph_alma.extraction import OpenAIExtractor, RuleBasedExtractor
from tests.extraction.conftest import FakeOpenAI


def _make(fake: FakeOpenAI) -> OpenAIExtractor:
    return OpenAIExtractor(api_key="test", base_url=fake.base_url, max_retries=0)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_openai_expands_tasks_with_a_strict_schema(fake_openai: FakeOpenAI, mode) -> None:
    fake_openai.reply_content(json.dumps({"tasks": ["Add the login form", "Test the form"]}))
    extractor = _make(fake_openai)
    prompt = "build a login form and test it"
    got = (
        extractor.expand_tasks(prompt) if mode == "sync" else await extractor.aexpand_tasks(prompt)
    )
    assert got == ["Add the login form", "Test the form"]
    (request,) = fake_openai.requests
    fmt = request["json"]["response_format"]
    assert fmt["json_schema"]["name"] == "alma_tasks" and fmt["json_schema"]["strict"] is True
    assert prompt in request["json"]["messages"][1]["content"]


async def test_malformed_task_lists_are_errors(fake_openai: FakeOpenAI) -> None:
    extractor = _make(fake_openai)
    fake_openai.reply_content(json.dumps({"tasks": ["ok", "  "]}))
    with pytest.raises(ExtractionError, match="task list schema"):
        extractor.expand_tasks("x")
    fake_openai.reply_content("not json")
    with pytest.raises(ExtractionError, match="malformed JSON"):
        extractor.expand_tasks("x")
    assert extractor.expand_tasks("   ") == []  # no call for an empty request


def test_rules_split_tasks_deterministically() -> None:
    rules = RuleBasedExtractor()
    assert rules.expand_tasks("- add login\n- test login") == ["add login", "test login"]
    assert rules.expand_tasks("fix the bug; then write a test") == ["fix the bug", "write a test"]
    assert rules.expand_tasks("one thing") == ["one thing"]
