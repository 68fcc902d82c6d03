"""`index_config`: one way to turn an embeddings choice into a store index config, shared
by `Alma.connect`, the CLI, the MCP server and the Studio factories (`ALMA_EMBEDDINGS`)."""

from __future__ import annotations

import pytest

from langgraph_alma.config import Settings
from langgraph_alma.embeddings import HashingEmbeddings, index_config
from langgraph_alma.errors import ConfigError


def test_hashing_names() -> None:
    config = index_config("hashing:128")
    assert config["dims"] == 128 and isinstance(config["embed"], HashingEmbeddings)
    assert config["embed"].dims == 128
    assert index_config("hashing")["dims"] == 256
    assert index_config("hashing", dims=64)["embed"].dims == 64


def test_provider_names_need_dims_and_pass_through() -> None:
    assert index_config("openai:text-embedding-3-small", dims=1536) == {
        "dims": 1536,
        "embed": "openai:text-embedding-3-small",
        "fields": ["text"],
    }
    with pytest.raises(ConfigError, match="embedding_dims is needed"):
        index_config("openai:text-embedding-3-small")


@pytest.mark.parametrize("bad", ["hashing:many", "hashing:0", "openai"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad embeddings"):
        index_config(bad)


def test_objects_are_probed_for_dims_and_none_is_full_text() -> None:
    assert index_config(HashingEmbeddings(32))["dims"] == 32
    assert index_config(lambda texts: [[0.0, 1.0, 0.0] for _ in texts])["dims"] == 3
    assert index_config(None) is None


def test_setting_defaults_to_offline_hashing(monkeypatch) -> None:
    assert Settings().embeddings == "hashing:256"
    monkeypatch.setenv("ALMA_EMBEDDINGS", "none")
    assert Settings().embeddings is None
