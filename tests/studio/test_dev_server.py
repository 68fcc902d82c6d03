"""`langgraph dev` serves examples/studio on AlmaSaver and AlmaStore: runs, history, store
search, thread copy and delete go through the server's API and land in our tables."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytest.importorskip("langgraph_cli", reason="`langgraph dev` needs langgraph-cli[inmem]")
pytest.importorskip("langgraph_api", reason="`langgraph dev` needs langgraph-cli[inmem]")
langgraph_sdk = pytest.importorskip("langgraph_sdk", reason="the test client is langgraph-sdk")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "studio"
READY_TIMEOUT_S = 120  # a cold start imports langgraph-api on a 2-core machine shared by others
# Off: the CLI's analytics ping, the PyPI version check, LangSmith tracing.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (the CLI and anything it started) by its id."""
    for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGKILL, 30)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def dev_server(
    database: Any, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """URL of a `langgraph dev` serving a copy of examples/studio for `tenant`."""
    for var in ("NO_PROXY", "no_proxy"):  # the clients must reach 127.0.0.1 directly
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    # A copy, so the server's own files (.langgraph_api/) stay out of the source tree.
    workdir = tmp_path / "studio"
    shutil.copytree(EXAMPLE, workdir, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "ALMA_CONFIG")
    }
    env |= OFFLINE_ENV | {
        "ALMA_DATABASE_URL": database.url,
        "ALMA_ADMIN_DATABASE_URL": database.admin_url,
        "ALMA_TENANT_ID": tenant,
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload",
                "--host", "127.0.0.1", "--port", str(port), "--config", "langgraph.json",
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"langgraph dev did not become ready (exit code {proc.poll()}):\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
    assert proc.returncode is not None
    # Nothing failed in the server: runs, API calls, the factories' setup and shutdown.
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log and "BlockingError" not in log, log[-4000:]


def _rows(admin_url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(sql, params).fetchall()


def _checkpoint_ids(admin_url: str, tenant: str, thread_id: str) -> set[str]:
    rows = _rows(
        admin_url,
        "SELECT checkpoint_id FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s",
        (tenant, thread_id),
    )
    return {r[0] for r in rows}


def test_dev_server_runs_on_alma_tables(dev_server: str, database: Any, tenant: str) -> None:
    client = langgraph_sdk.get_sync_client(url=dev_server)
    user = f"u-{uuid.uuid4().hex[:8]}"
    thread_id = client.threads.create()["thread_id"]

    def turn(text: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": text}]}

    # Studio draws the graph and its input form from the schemas.
    assistant = client.assistants.search(graph_id="chat")[0]["assistant_id"]
    schemas = client.assistants.get_schemas(assistant)
    assert "messages" in schemas["input_schema"]["properties"]
    assert "user_id" in schemas["context_schema"]["properties"]

    context = {"user_id": user}
    state = client.runs.wait(
        thread_id, "chat", input=turn("I like green tea in the morning"), context=context
    )
    first = state["messages"][-1]["content"]
    events = client.runs.stream(  # as Studio runs a graph
        thread_id, "chat", input=turn("Which tea should I order?"), context=context
    )
    second = [e.data for e in events if e.event == "values"][-1]["messages"][-1]["content"]
    assert "first thing you have told me" in first
    assert "closest is 'I like green tea in the morning'" in second

    # The thread's history (Studio's timeline) is read back through AlmaSaver.
    history = client.threads.get_history(thread_id, limit=100)
    ids = {state["checkpoint"]["checkpoint_id"] for state in history}
    assert len(history[0]["values"]["messages"]) == 4
    assert len(ids) >= 6  # two runs of input, recall and remember steps
    assert ids == _checkpoint_ids(database.admin_url, tenant, thread_id)
    scope = _rows(
        database.admin_url,
        "SELECT DISTINCT workflow_id, agent FROM alma_checkpoints "
        "WHERE tenant_id = %s AND thread_id = %s",
        (tenant, thread_id),
    )
    assert [s[0] for s in scope] == ["chat"]  # the server's graph_id is the workflow
    assert all(s[1] for s in scope)  # and its assistant_id the agent

    # Studio's time travel and state editing: a past checkpoint, then a new one.
    first_run = next(s for s in history if len(s["values"]["messages"]) == 2 and not s["next"])
    past = client.threads.get_state(thread_id, checkpoint_id=first_run["checkpoint_id"])
    assert past["values"]["messages"][0]["content"] == "I like green tea in the morning"
    edit = client.threads.update_state(
        thread_id, {"messages": [{"role": "user", "content": "edited in Studio"}]}
    )
    edited_id = edit["checkpoint"]["checkpoint_id"]
    assert client.threads.get_state(thread_id)["values"]["messages"][-1]["content"] == (
        "edited in Studio"
    )
    ids = _checkpoint_ids(database.admin_url, tenant, thread_id)
    assert edited_id in ids and len(ids) == len(history) + 1

    # Studio's memory view: namespaces and a hybrid search, served by AlmaStore.
    namespaces = client.store.list_namespaces(prefix=["memories"])["namespaces"]
    assert ["memories", user] in namespaces
    found = client.store.search_items(["memories", user], query="green tea", limit=5)["items"]
    assert [i["value"]["text"] for i in found][0] == "I like green tea in the morning"
    assert len(found) == 2
    stored = _rows(
        database.admin_url,
        "SELECT s.value->>'text', v.dims FROM alma_store s JOIN alma_store_vectors v "
        "USING (tenant_id, ns_path, key) WHERE s.tenant_id = %s ORDER BY 1",
        (tenant,),
    )
    assert stored == [("I like green tea in the morning", 256), ("Which tea should I order?", 256)]

    # Copying and deleting a thread in Studio go through acopy_thread and adelete_thread.
    copy = client.http.post(f"/threads/{thread_id}/copy", json={})
    assert len(_checkpoint_ids(database.admin_url, tenant, copy["thread_id"])) == len(ids)
    client.threads.delete(thread_id)
    assert _checkpoint_ids(database.admin_url, tenant, thread_id) == set()
    assert _checkpoint_ids(database.admin_url, tenant, copy["thread_id"])
