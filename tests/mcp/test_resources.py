"""Resources: the effective config (no secret in it) and the domain schemas, presets and
custom ones, which survive a server restart."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from langgraph_alma.mcp.runtime import REDACTED, redact_url
from tests.mcp.conftest import payload

TOKEN = "tok-3f9a2c7d1e"
OPENAI_KEY = "sk-test-0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db:5432/alma", f"postgresql://app:{REDACTED}@db:5432/alma"),
        ("postgresql://app@db/alma", "postgresql://app@db/alma"),
        ("postgresql://db/alma?password=s3cret&sslmode=require", None),
        ("host=db user=app password=s3cret dbname=alma", None),
        (None, None),
    ],
)
def test_redact_url(url: str | None, expected: str | None) -> None:
    redacted = redact_url(url)
    if expected is not None:
        assert redacted == expected
    if url is not None:
        assert "s3cret" not in (redacted or "")
        assert ("s3cret" in url) == (REDACTED in (redacted or ""))


async def test_config_resource_has_no_secret(start_http: Any, database: Any) -> None:
    tenant = f"mcp-{uuid.uuid4().hex[:8]}"
    server = start_http("--tenant", tenant, token=TOKEN, ALMA_OPENAI_API_KEY=OPENAI_KEY)
    async with server.client() as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"alma://config", "alma://domains"} <= listed
        text = (await client.read_resource("alma://config")).contents[0].text
    config = json.loads(text)
    assert config["server"]["tenant"] == tenant and config["server"]["transport"] == "http"
    assert config["settings"]["mcp_token"] == REDACTED
    assert config["settings"]["openai_api_key"] == REDACTED
    assert TOKEN not in text and OPENAI_KEY not in text
    for url in (database.url, database.admin_url):
        password = url.split("://", 1)[1].split("@")[0].partition(":")[2]
        if password:
            assert password not in text


async def test_custom_domains_survive_a_restart(start_http: Any) -> None:
    tenant = f"mcp-{uuid.uuid4().hex[:8]}"
    spec = {
        "name": "support",
        "description": "customer support",
        "learning_categories": ["triage", "refunds"],
        "excluded_categories": ["billing_changes"],
        "agents": {"sam": {"can_learn": ["triage"]}},
    }
    async with start_http("--tenant", tenant).client() as client:
        created = payload(await client.call_tool("alma_create_domain", spec))
        assert created["domain"]["agents"]["sam"]["can_learn"] == ["triage"]
        again = await client.call_tool("alma_create_domain", spec)
        assert again.is_error and "already exists" in again.content[0].text
        replaced = await client.call_tool(
            "alma_create_domain", {**spec, "description": "support v2", "replace": True}
        )
        assert payload(replaced)["domain"]["description"] == "support v2"

    async with start_http("--tenant", tenant).client() as client:  # a new process
        domains = json.loads((await client.read_resource("alma://domains")).contents[0].text)
    by_name = {d["name"]: d for d in domains}
    assert by_name["support"]["source"] == "custom"
    assert by_name["support"]["description"] == "support v2"
    assert by_name["coding"]["source"] == "preset"
    assert set(by_name) == {"coding", "research", "sales", "general", "support"}
