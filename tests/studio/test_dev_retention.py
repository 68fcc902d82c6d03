"""`langgraph dev` with langgraph.json's `checkpointer.ttl` block: the server's AlmaSaver
sweeps expired threads in the background with the platform's semantics (keep_latest here:
the thread stays, its older checkpoints go)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.studio.test_dev_server import (
    EXAMPLE,
    OFFLINE_ENV,
    READY_TIMEOUT_S,
    _free_port,
    _ready,
    _stop,
    langgraph_sdk,
)

# langgraph-api wants whole minutes between sweeps; ALMA_CHECKPOINT_TTL overrides that key.
TTL = {"strategy": "keep_latest", "default_ttl": 0.05, "sweep_interval_minutes": 1}
FAST = {"sweep_interval_minutes": 0.01}


@pytest.fixture
def ttl_server(database: Any, tenant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[str]:  # fmt: skip
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    workdir = tmp_path / "studio"
    shutil.copytree(EXAMPLE, workdir, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    config = json.loads((workdir / "langgraph.json").read_text())
    config["checkpointer"]["ttl"] = TTL
    (workdir / "langgraph.json").write_text(json.dumps(config))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "ALMA_CONFIG", "ALMA_CHECKPOINT_TTL")
    }
    env |= OFFLINE_ENV | {
        "ALMA_DATABASE_URL": database.url,
        "ALMA_ADMIN_DATABASE_URL": database.admin_url,
        "ALMA_TENANT_ID": tenant,
        "ALMA_CHECKPOINT_TTL": json.dumps(FAST),
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload",
             "--host", "127.0.0.1", "--port", str(port), "--config", "langgraph.json"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("langgraph dev did not start:\n" + log_path.read_text()[-4000:])
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def _count(admin_url: str, sql: str, params: tuple[Any, ...]) -> Any:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_the_servers_saver_sweeps_expired_threads(ttl_server: str, database: Any, tenant: str
                                                  ) -> None:  # fmt: skip
    client = langgraph_sdk.get_sync_client(url=ttl_server)
    thread_id = client.threads.create()["thread_id"]
    for text in ("I like green tea", "and oolong too"):
        client.runs.wait(
            thread_id, "chat", input={"messages": [{"role": "user", "content": text}]},
            context={"user_id": "u1"},
        )  # fmt: skip
    checkpoints = "SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s"
    before = _count(database.admin_url, checkpoints, (tenant, thread_id))
    assert before > 2
    # The thread's TTL is langgraph.json's.
    assert (
        _count(
            database.admin_url,
            "SELECT ttl_minutes FROM alma_threads WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread_id),
        )
        == TTL["default_ttl"]
    )
    # 3 s of TTL, a sweep every 0.6 s: the server's sweeper keeps the latest checkpoint.
    deadline = time.monotonic() + 30
    swept = None
    while time.monotonic() < deadline and swept is None:
        time.sleep(0.5)
        swept = _count(
            database.admin_url,
            "SELECT swept_at FROM alma_threads WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread_id),
        )
    assert swept is not None, "the server's saver never swept the expired thread"
    assert _count(database.admin_url, checkpoints, (tenant, thread_id)) < before
    state = client.threads.get_state(thread_id)
    assert [m["content"] for m in state["values"]["messages"]][2] == "and oolong too"
