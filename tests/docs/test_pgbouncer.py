"""What docs/scaling.md says about PgBouncer in transaction mode, run through a real
PgBouncer when one is installed (skipped otherwise): with `ALMA_PREPARE_THRESHOLD=none`,
concurrent facade, saver and progress traffic works with fewer server connections than clients;
with prepared statements on and no support in PgBouncer, two clients sharing one server
connection collide on psycopg's statement names."""

from __future__ import annotations

import asyncio
import operator
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TypedDict

import psycopg
import pytest
from langgraph.graph import START, StateGraph
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from langgraph_alma import AlmaStore, AsyncAlmaSaver, WorkflowContext
from langgraph_alma.alma import Alma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.progress import ProgressTracker
from tests.conftest import Database

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
# CI installs PgBouncer (.ci/run): there, a missing binary fails instead of skipping.
IN_CI = bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(
    PGBOUNCER is None and not IN_CI, reason="pgbouncer is not installed"
)


def test_pgbouncer_is_installed_in_ci() -> None:
    if not IN_CI:
        pytest.skip("only CI must have PgBouncer")
    assert PGBOUNCER is not None, ".ci/run installs pgbouncer; these tests must not skip in CI"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _version() -> tuple[int, ...]:
    out = subprocess.run([PGBOUNCER or "", "--version"], capture_output=True, text=True).stdout
    return tuple(int(n) for n in out.split()[1].split(".")[:2])


@pytest.fixture
def bouncer(database: Database, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test database, with
    `request.param` server connections; yields the application URL through it."""
    target = conninfo_to_dict(database.url)
    host = target.get("host") or "127.0.0.1"
    login = {"host": host, "port": target.get("port") or 5432, "user": target["user"]}
    if target.get("password"):
        login["password"] = target["password"]
    server = " ".join(f"{k}={v}" for k, v in login.items())
    port = _free_port()
    (tmp_path / "pgbouncer.ini").write_text(
        f"[databases]\n* = {server}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = any\npool_mode = transaction\ndefault_pool_size = {request.param}\n"
    )
    command = [PGBOUNCER or "", str(tmp_path / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: run as the socket's owner
        owner = pwd.getpwuid(Path(host).stat().st_uid if host.startswith("/") else 65534)
        tmp_path.chmod(0o755)
        shutil.chown(tmp_path / "pgbouncer.ini", owner.pw_name)
        command[1:1] = ["-u", owner.pw_name]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield make_conninfo(f"postgresql://{target['user']}@127.0.0.1:{port}/{target['dbname']}")
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("bouncer", [2], indirect=True)
def test_concurrent_traffic_without_prepared_statements(
    bouncer: str, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMA_PREPARE_THRESHOLD", "none")
    monkeypatch.setenv("ALMA_POOL_MAX_SIZE", "6")
    errors: list[BaseException] = []
    with Alma.connect(bouncer, tenant_id=tenant, setup=False) as alma:
        tracker = ProgressTracker(alma.store, project_id="shop")  # changes in store.atomic

        def work(w: int) -> None:
            ctx = WorkflowContext(tenant_id=tenant, workflow_id="wf", run_id=f"run-{w}")
            try:
                for i in range(4):
                    alma.learn(f"a{w}", f"task {i}", "success", "happy path", task_type="testing")
                    assert alma.retrieve(f"task {i}", agent=f"a{w}").outcomes
                    alma.checkpoint(ctx, f"node{i}", {"i": i})
                    assert alma.get_resume_point(f"run-{w}").seq == i + 1
                    assert alma.saver.get_tuple({"configurable": {"thread_id": f"run-{w}"}})
                    alma.graph.add_entity("module", f"m{w}-{i}")
                    item = tracker.create_work_item(f"item {w}-{i}")
                    tracker.update_status(item.id, "in_progress")
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert alma.get_stats()["counts"]["outcome"] == 24
        assert tracker.get_progress_summary().by_status["in_progress"] == 24


@pytest.mark.parametrize("bouncer", [1], indirect=True)
def test_prepared_statements_collide_without_pgbouncer_support(bouncer: str) -> None:
    if _version() >= (1, 21):
        pytest.skip("PgBouncer >= 1.21 can track prepared statements itself")
    kwargs = {**connection_kwargs(), "prepare_threshold": 0}
    # Two clients, one server connection: each client numbers its statements from 0.
    with psycopg.connect(bouncer, **kwargs) as a, psycopg.connect(bouncer, **kwargs) as b:
        a.execute("SELECT 1").fetchone()
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("SELECT 2").fetchone()


@pytest.mark.parametrize("bouncer", [2], indirect=True)
def test_store_and_async_saver_through_transaction_pooling(
    bouncer: str, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store (sync threads) and the async saver (concurrent graph runs) with more
    clients than server connections, as docs/scaling.md recommends."""
    monkeypatch.setenv("ALMA_PREPARE_THRESHOLD", "none")
    monkeypatch.setenv("ALMA_POOL_MAX_SIZE", "6")
    index = {"dims": 64, "embed": HashingEmbeddings(64)}
    errors: list[BaseException] = []
    with AlmaStore.from_conn_string(bouncer, tenant_id=tenant, index=index) as store:

        def work(w: int) -> None:
            try:
                for i in range(10):
                    ns = ("docs", f"w{w}")
                    store.put(ns, f"k{i}", {"text": f"note {i} about topic {w}", "n": i})
                    assert store.get(ns, f"k{i}").value["n"] == i
                    hits = store.search(("docs",), query=f"topic {w}", filter={"n": {"$gte": 0}})
                    assert any(h.namespace == ns for h in hits)
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(store.search(("docs",), limit=100)) == 60

    async def run_graphs() -> None:
        async with AsyncAlmaSaver.from_conn_string(bouncer, tenant_id=tenant) as saver:
            builder = StateGraph(_State)
            builder.add_node("step", lambda s: {"log": [len(s["log"])]})
            builder.add_edge(START, "step")
            graph = builder.compile(checkpointer=saver)

            async def thread(t: int) -> None:
                cfg = {"configurable": {"thread_id": f"pgb-{tenant}-{t}"}}
                for _ in range(5):
                    await graph.ainvoke({"log": []}, cfg)

            await asyncio.gather(*(thread(t) for t in range(6)))
            for t in range(6):
                state = await graph.aget_state({"configurable": {"thread_id": f"pgb-{tenant}-{t}"}})
                assert state.values["log"] == [0, 1, 2, 3, 4]

    asyncio.run(run_graphs())


class _State(TypedDict):
    log: Annotated[list[int], operator.add]
