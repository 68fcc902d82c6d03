"""Several processes on one run: database-assigned sequence numbers under concurrency,
and a worker killed with SIGKILL between nodes that resumes from its last checkpoint."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections import Counter

import psycopg

from tests.workflow.conftest import worker

TIMEOUT = 45  # seconds: a deadlock or a lost lock fails the test instead of hanging it


def _rows(database, tenant: str, run: str) -> list[tuple[str, int, str]]:
    with psycopg.connect(database.admin_url) as conn:
        return conn.execute(
            "SELECT coalesce(branch_id, ''), seq, checkpoint_id FROM alma_checkpoints "
            "WHERE tenant_id = %s AND thread_id = %s AND seq IS NOT NULL",
            (tenant, run),
        ).fetchall()


def test_eight_processes_number_checkpoints_without_gaps(database, tenant, alma) -> None:
    run, per_writer = uuid.uuid4().hex, 12
    branches = ["a", "b", "c", "d", "e", "shared", "shared", "shared"]
    start_at = f"{time.time() + 2.5:.3f}"  # all start writing at once, after their imports
    procs = [
        worker("concurrent", tenant, run, b, str(per_writer), start_at, f"w{i}")
        for i, b in enumerate(branches)
    ]
    reported: dict[str, list[int]] = {}
    try:
        for p, branch in zip(procs, branches, strict=True):
            out, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err
            reported.setdefault(branch, []).extend(seq for seq, _ in json.loads(out))
    finally:
        for p in procs:
            p.kill()
    rows = _rows(database, tenant, run)
    assert len(rows) == len(branches) * per_writer  # no lost checkpoint
    expected = Counter(branches)
    for branch, n in expected.items():
        in_db = sorted(seq for b, seq, _ in rows if b == branch)
        assert in_db == list(range(1, n * per_writer + 1))  # unique and gap-free
        assert sorted(reported[branch]) == in_db  # what each writer got is what is stored
    resume = alma.get_resume_point(run, "shared")
    assert resume.seq == 3 * per_writer and resume.state["i"] == per_writer - 1


def test_worker_killed_between_nodes_resumes_exactly_once(database, tenant, alma) -> None:
    run, nodes = uuid.uuid4().hex, "n1,n2,n3,n4,n5"
    crashing = worker("nodes", tenant, run, nodes, "n2")  # stalls after n2: killed there
    try:
        lines = []
        while len([line for line in lines if line.startswith("committed")]) < 2:
            line = crashing.stdout.readline()
            assert line, crashing.stderr.read()
            lines.append(line)
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(timeout=TIMEOUT)
    finally:
        crashing.kill()
    assert crashing.returncode == -signal.SIGKILL
    assert alma.get_resume_point(run).node_id == "n2"

    resumed = worker("nodes", tenant, run, nodes, "-")
    out, err = resumed.communicate(timeout=TIMEOUT)
    assert resumed.returncode == 0, err
    assert out.splitlines()[0] == "resumed after n2"
    assert out.splitlines()[-1] == "completed"
    final = alma.get_resume_point(run)
    assert final.state["outputs"] == [f"out-n{i}" for i in range(1, 6)]  # each exactly once
    assert final.seq == 5
    assert sorted(seq for _, seq, _ in _rows(database, tenant, run)) == [1, 2, 3, 4, 5]
