"""A worker process for the workflow tests (run with `sys.executable`; the database is
`ALMA_DATABASE_URL`).

    _worker.py concurrent TENANT RUN BRANCH COUNT START_AT WRITER
        write COUNT checkpoints on BRANCH from START_AT (epoch seconds); print their seqs
    _worker.py nodes TENANT RUN NODES STALL_AFTER
        run the comma-separated NODES in order from the run's resume point, checkpointing
        after each; print each committed node; after node STALL_AFTER, wait 60 s (the
        next node's long work, where the test kills it)
"""

from __future__ import annotations

import json
import os
import sys
import time

from langgraph_alma.alma import Alma
from langgraph_alma.workflow import WorkflowContext


def concurrent(alma: Alma, run: str, branch: str, count: int, start_at: float, writer: str) -> None:
    ctx = WorkflowContext(tenant_id=alma.core.tenant_id, workflow_id="wf", run_id=run)
    while time.time() < start_at:
        time.sleep(0.005)
    seqs = []
    for i in range(count):
        record = alma.checkpoint(ctx, f"node-{i}", {"writer": writer, "i": i}, branch_id=branch)
        assert record is not None
        seqs.append([record.seq, record.checkpoint_id])
    print(json.dumps(seqs), flush=True)


def nodes(alma: Alma, run: str, names: list[str], stall_after: str) -> None:
    ctx = WorkflowContext(tenant_id=alma.core.tenant_id, workflow_id="wf", run_id=run)
    resume = alma.get_resume_point(run)
    state = resume.state if resume else {"outputs": [], "done": []}
    print(f"resumed after {resume.node_id if resume else None}", flush=True)
    for name in names:
        if name in state["done"]:
            continue
        state = {"outputs": [*state["outputs"], f"out-{name}"], "done": [*state["done"], name]}
        record = alma.checkpoint(ctx.with_node(name), name, state)
        print(f"committed {name} seq={record.seq if record else None}", flush=True)
        time.sleep(60 if name == stall_after else 0.01)  # the next node's work
    print("completed", flush=True)


def main() -> int:
    mode, tenant, run, *rest = sys.argv[1:]
    with Alma.connect(os.environ["ALMA_DATABASE_URL"], tenant_id=tenant, setup=False) as alma:
        if mode == "concurrent":
            branch, count, start_at, writer = rest
            concurrent(alma, run, branch, int(count), float(start_at), writer)
        else:
            names, stall_after = rest
            nodes(alma, run, names.split(","), stall_after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
