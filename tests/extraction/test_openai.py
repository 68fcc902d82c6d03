"""`OpenAIExtractor` against a local OpenAI-compatible endpoint, sync and async."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langgraph_alma.errors import ConfigError, ExtractionError
from langgraph_alma.extraction import ExtractionResult, Extractor, OpenAIExtractor
from langgraph_alma.extraction.openai import RESPONSE_FORMAT
from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    Outcome,
    UserPreference,
)

from .conftest import FakeOpenAI

MESSAGES = [
    HumanMessage("The checkout form test keeps timing out. I prefer pytest over unittest."),
    AIMessage("I tried waiting for network idle and it worked."),
]

GOOD = {
    "heuristics": [
        {
            "condition": "a form test times out",
            "strategy": "wait for network idle before asserting",
            "confidence": 0.8,
            "task_type": "testing",
        }
    ],
    "anti_patterns": [
        {
            "pattern": "fixed sleeps in UI tests",
            "why_bad": "they time out on slow runs",
            "better_alternative": "wait for network idle",
            "task_type": None,
        }
    ],
    "preferences": [
        {
            "category": "tools",
            "preference": "pytest over unittest",
            "source": "explicit_instruction",
            "confidence": 1,  # a JSON integer is a valid number
        }
    ],
    "domain_knowledge": [
        {"domain": "checkout", "fact": "the checkout form posts to /api/orders", "confidence": 0.6}
    ],
    "outcomes": [
        {
            "task_type": "testing",
            "task_description": "fix the timing-out checkout form test",
            "success": True,
            "strategy_used": "wait for network idle",
            "error_message": None,
            "user_feedback": None,
        }
    ],
}


def with_(category: str, **changes: Any) -> dict[str, Any]:
    """GOOD with the first item of `category` changed (a value of `...` drops the key)."""
    data = json.loads(json.dumps(GOOD))
    item = data[category][0]
    for key, value in changes.items():
        if value is ...:
            del item[key]
        else:
            item[key] = value
    return data


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


async def run(extractor: OpenAIExtractor, mode: str, transcript: Any, **kw: Any) -> Any:
    if mode == "sync":
        return extractor.extract(transcript, **kw)
    return await extractor.aextract(transcript, **kw)


def make(fake: FakeOpenAI, model: str = "gpt-4o-mini") -> OpenAIExtractor:
    return OpenAIExtractor(model=model, api_key="test", base_url=fake.base_url, max_retries=0)


async def test_good_response_gives_typed_memories(fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.reply_content(json.dumps(GOOD))
    extractor = make(fake_openai, model="my-model")
    assert isinstance(extractor, Extractor)

    result = await run(extractor, mode, MESSAGES, agent="helena", user_id="u1")

    # what went over the wire
    (request,) = fake_openai.requests
    assert request["path"] == "/v1/chat/completions"
    sent = request["json"]
    assert sent["model"] == "my-model"
    assert sent["temperature"] == 0
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert set(sent["response_format"]["json_schema"]["schema"]["properties"]) == set(GOOD)
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    user_text = sent["messages"][1]["content"]
    assert "user: The checkout form test keeps timing out." in user_text
    assert "assistant: I tried waiting for network idle and it worked." in user_text

    # what came back
    assert isinstance(result, ExtractionResult) and not result.is_empty
    (h,) = result.heuristics
    assert isinstance(h, Heuristic)
    assert (h.condition, h.strategy, h.confidence, h.task_type) == (
        "a form test times out",
        "wait for network idle before asserting",
        0.8,
        "testing",
    )
    (a,) = result.anti_patterns
    assert isinstance(a, AntiPattern) and a.better_alternative == "wait for network idle"
    (p,) = result.preferences
    assert isinstance(p, UserPreference)
    assert (p.user_id, p.category, p.preference, p.confidence) == (
        "u1",
        "tools",
        "pytest over unittest",
        1.0,
    )
    (d,) = result.domain_knowledge
    assert isinstance(d, DomainKnowledge) and (d.domain, d.confidence) == ("checkout", 0.6)
    (o,) = result.outcomes
    assert isinstance(o, Outcome) and o.success and o.strategy_used == "wait for network idle"
    assert len(result.memories) == 5
    for memory in result.memories:
        assert memory.agent == "helena"
        assert memory.metadata == {"extracted_by": "openai:my-model"}


async def test_string_transcript_and_empty_lists(fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.reply_content(json.dumps({k: [] for k in GOOD}))
    result = await run(make(fake_openai), mode, "user: hello there")
    assert result.is_empty
    assert "user: hello there" in fake_openai.requests[0]["json"]["messages"][1]["content"]


async def test_empty_transcript_makes_no_call(fake_openai: FakeOpenAI, mode: str) -> None:
    assert (await run(make(fake_openai), mode, "  \n")).is_empty
    assert (await run(make(fake_openai), mode, [])).is_empty
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"heuristics": [', "malformed JSON"),
        ("[]", "does not match the extraction schema: <root>: Input should be an object"),
        (
            json.dumps(with_("heuristics", strategy=...)),
            "does not match the extraction schema: heuristics.0.strategy: Field required",
        ),
        (
            json.dumps(with_("heuristics", confidence="high")),
            "heuristics.0.confidence: Input should be a valid number",
        ),
        (
            json.dumps(with_("heuristics", confidence=1.5)),
            "heuristics.0.confidence: Input should be less than or equal to 1",
        ),
        (
            json.dumps(with_("outcomes", success="yes")),
            "outcomes.0.success: Input should be a valid boolean",
        ),
        (json.dumps(with_("preferences", source="guess")), "preferences.0.source: Input should be"),
        (
            json.dumps(with_("domain_knowledge", fact="  ")),
            "domain_knowledge.0.fact: Value error, must not be blank",
        ),
        (
            json.dumps(with_("outcomes", extra=1)),
            "outcomes.0.extra: Extra inputs are not permitted",
        ),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "outcomes"}),
            "outcomes: Field required",
        ),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "missing-field",
        "wrong-type",
        "out-of-range",
        "string-bool",
        "bad-enum",
        "blank",
        "extra-field",
        "missing-category",
    ],
)
async def test_bad_output_raises(
    fake_openai: FakeOpenAI, mode: str, content: str, message: str
) -> None:
    fake_openai.reply_content(content)
    with pytest.raises(ExtractionError, match="gpt-4o-mini") as info:
        await run(make(fake_openai), mode, MESSAGES)
    assert message in str(info.value)


async def test_refusal_raises(fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.reply_content(None, refusal="I can't help with that.")
    with pytest.raises(ExtractionError, match="the model refused: I can't help with that."):
        await run(make(fake_openai), mode, MESSAGES)


@pytest.mark.parametrize(
    ("finish_reason", "message"),
    [("length", "cut off at the token limit"), ("content_filter", "content filter")],
)
async def test_unfinished_output_raises(
    fake_openai: FakeOpenAI, mode: str, finish_reason: str, message: str
) -> None:
    fake_openai.reply_content('{"heuristics": [', finish_reason=finish_reason)
    with pytest.raises(ExtractionError, match=message):
        await run(make(fake_openai), mode, MESSAGES)


async def test_http_error_raises(fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.reply(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
    with pytest.raises(ExtractionError, match="HTTP 500") as info:
        await run(make(fake_openai), mode, MESSAGES)
    assert "upstream exploded" in str(info.value)
    assert len(fake_openai.requests) == 1  # max_retries=0 is honoured


async def test_no_choices_raises(fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.reply(
        200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    )
    with pytest.raises(ExtractionError, match="no choices"):
        await run(make(fake_openai), mode, MESSAGES)


async def test_connection_error_raises(mode: str) -> None:
    # port 9 (discard) on localhost: nothing listens, the connection is refused at once
    extractor = OpenAIExtractor(api_key="test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ExtractionError, match="APIConnectionError"):
        await run(extractor, mode, MESSAGES)


async def test_given_clients_are_used(fake_openai: FakeOpenAI) -> None:
    fake_openai.reply_content(json.dumps(GOOD))
    fake_openai.reply_content(json.dumps(GOOD))
    kw: dict[str, Any] = {"api_key": "test", "base_url": fake_openai.base_url, "max_retries": 0}
    extractor = OpenAIExtractor(
        model="m", client=openai.OpenAI(**kw), async_client=openai.AsyncOpenAI(**kw)
    )
    assert len(extractor.extract(MESSAGES).heuristics) == 1
    assert len((await extractor.aextract(MESSAGES)).heuristics) == 1
    assert len(fake_openai.requests) == 2


def test_missing_api_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="cannot create the OpenAI client"):
        OpenAIExtractor().extract("user: hi")


def test_schema_is_strict_mode_compatible() -> None:
    """OpenAI strict mode: every object closed, every property required, no defaults."""
    schema = RESPONSE_FORMAT["json_schema"]["schema"]
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])
        assert not any("default" in prop for prop in obj["properties"].values())
