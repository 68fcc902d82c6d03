"""Defaults that find what was learned (issue 12): `Alma.connect()` without embeddings uses
the offline default (`ALMA_EMBEDDINGS`, `hashing:256`) like the CLI, MCP and Studio do."""

from __future__ import annotations

import pytest

from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.alma.config import default_embeddings
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.memory import MemoryScope


def test_default_embeddings_follow_the_setting(monkeypatch) -> None:
    assert default_embeddings(None, None) == ("hashing:256", None)
    assert default_embeddings("none", None) == (None, None)
    monkeypatch.setenv("ALMA_EMBEDDINGS", "hashing:64")
    assert default_embeddings(None, None) == ("hashing:64", None)
    monkeypatch.setenv("ALMA_EMBEDDINGS", "none")
    assert default_embeddings(None, None) == (None, None)


def test_connect_without_embeddings_has_the_offline_index(database, tenant) -> None:
    with Alma.connect(database.url, tenant, setup=False) as alma:
        index = alma.store.index_config
        assert index is not None and index["dims"] == 256
        assert isinstance(index["embed"], HashingEmbeddings)
    with Alma.connect(database.url, tenant, embeddings="none", setup=False) as alma:
        assert alma.store.index_config is None


async def test_async_connect_has_the_offline_index(database, tenant) -> None:
    alma = await AsyncAlma.connect(database.url, tenant, setup=False)
    try:
        assert alma.store.index_config["dims"] == 256
    finally:
        await alma.aclose()


@pytest.mark.parametrize("task_type", ["ops"])
def test_a_learned_heuristic_comes_back_for_a_new_task(database, tenant, task_type) -> None:
    """The README quickstart, with other words: outcomes of ops tasks make a heuristic
    that a retrieval for a new ops task (sharing few words with the old ones) returns."""
    scopes = {"helena": MemoryScope(agent_name="helena", can_learn=[task_type])}
    with Alma.connect(
        database.url, tenant, project_id="defaults", scopes=scopes, setup=False
    ) as alma:
        for task in ["restart the billing service", "rotate the api keys", "patch the servers"]:
            alma.learn("helena", task, "success", "announce in the ops channel first",
                       task_type=task_type)  # fmt: skip
        found = alma.retrieve("restart the search cluster", agent="helena")
        assert [h.strategy for h in found.heuristics] == ["announce in the ops channel first"]
