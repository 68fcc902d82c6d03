"""An AgTestari-style test orchestrator on langgraph-alma's workflow layer, end to end.

A run plans a regression suite, fans out to three test branches in parallel, joins them
with named reducers, reports, and learns from the outcome. Every node retrieves memories
before it works and checkpoints after. A worker process is killed with SIGKILL between
nodes; the orchestrator resumes the run from `get_resume_point` and completes it, each
committed node output kept exactly once.

    python examples/agtestari_integration.py          # embedded server, or ALMA_DATABASE_URL

Exits 0 when the run completed as expected.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langgraph_alma.alma import Alma
from langgraph_alma.reducers import ReducerConfig
from langgraph_alma.workflow import RetrievalScope, WorkflowContext

TENANT, PROJECT, WORKFLOW, AGENT = "agtestari", "agtestari", "regression-suite", "orchestrator"
BRANCHES = {"ui_tests": (12, 1, 840), "api_tests": (30, 0, 120), "perf_tests": (4, 1, 5300)}
JOIN = ReducerConfig(
    field_reducers={"results": "append", "passed": "sum", "failed": "sum", "slowest_ms": "max"},
    default_reducer="last_value",
)


def _connect() -> Alma:
    return Alma.connect(None, TENANT, PROJECT)  # ALMA_DATABASE_URL, else the embedded server


def _recall(alma: Alma, ctx: WorkflowContext, task: str) -> int:
    """Retrieve before a node works: what this orchestrator learned about such tasks."""
    found = alma.retrieve(task, AGENT, context=ctx, scope=RetrievalScope.AGENT, top_k=3)
    return len(found.heuristics) + len(found.outcomes) + len(found.domain_knowledge)


def _branch(alma: Alma, ctx: WorkflowContext, name: str) -> str:
    if alma.get_resume_point(str(ctx.run_id), name) is not None:
        return f"{name}: already committed, skipped"
    recalled = _recall(alma, ctx.with_node(name, name), f"run {name}")
    passed, failed, slowest = BRANCHES[name]
    state = {
        "results": [f"{name}: {passed} passed, {failed} failed"],
        "passed": passed,
        "failed": failed,
        "slowest_ms": slowest,
        "last_branch": name,
    }
    record = alma.checkpoint(ctx.with_node(name, name), name, state, branch_id=name)
    return f"{name}: committed seq={record.seq if record else '-'} ({recalled} memories recalled)"


def run_pipeline(
    alma: Alma, ctx: WorkflowContext, stall_after: str | None = None
) -> dict[str, Any]:
    """Run (or resume) the run's nodes; print each; return the final state."""
    run = str(ctx.run_id)
    resume = alma.get_resume_point(run)
    state: dict[str, Any] = resume.state if resume else {"done": []}
    print(f"[{os.getpid()}] start: resume point = {resume.node_id if resume else None}", flush=True)

    def after(node: str) -> None:
        if node == stall_after:
            print(f"[{os.getpid()}] stalling after {node}", flush=True)
            signal.pause()  # the orchestrator kills this worker here

    if "plan" not in state["done"]:
        recalled = _recall(alma, ctx.with_node("plan"), "plan a regression suite")
        state = {**state, "plan": sorted(BRANCHES), "done": [*state["done"], "plan"]}
        rec = alma.checkpoint(ctx.with_node("plan"), "plan", state)
        print(
            f"[{os.getpid()}] plan: committed seq={rec.seq} ({recalled} memories recalled)",
            flush=True,
        )
        after("plan")
    if "join" not in state["done"]:
        with ThreadPoolExecutor(len(BRANCHES)) as pool:  # the parallel fan-out
            for line in pool.map(lambda b: _branch(alma, ctx, b), sorted(BRANCHES)):
                print(f"[{os.getpid()}] {line}", flush=True)
        after("branches")
        branch_states = [alma.get_resume_point(run, b).state for b in sorted(BRANCHES)]
        merged = alma.merge_states(ctx, branch_states, JOIN)
        state = {**state, **merged, "done": [*state["done"], "join"]}
        rec = alma.checkpoint(ctx.with_node("join"), "join", state)
        print(
            f"[{os.getpid()}] join: merged {len(branch_states)} branches, "
            f"{merged['passed']} passed / {merged['failed']} failed, seq={rec.seq}",
            flush=True,
        )
    if "report" not in state["done"]:
        report = (
            f"{state['passed']} passed, {state['failed']} failed; slowest {state['slowest_ms']} ms"
        )
        state = {**state, "report": report, "done": [*state["done"], "report"]}
        rec = alma.checkpoint(ctx.with_node("report"), "report", state)
        print(f"[{os.getpid()}] report: {report} (seq={rec.seq})", flush=True)
    return state


def worker(run: str, stall_after: str) -> int:
    with _connect() as alma:
        ctx = WorkflowContext(tenant_id=TENANT, workflow_id=WORKFLOW, run_id=run)
        run_pipeline(alma, ctx, stall_after)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", metavar="RUN_ID", help=argparse.SUPPRESS)
    parser.add_argument("--stall-after", default="branches", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.stall_after)

    run = f"run-{uuid.uuid4().hex[:8]}"
    ctx = WorkflowContext(tenant_id=TENANT, workflow_id=WORKFLOW, run_id=run).validate(True)
    with _connect() as alma:
        alma.add_domain_knowledge(AGENT, "testing", "perf tests need a warm cache")
        print(f"run {run}: starting a worker process", flush=True)
        child = subprocess.Popen(
            [sys.executable, __file__, "--worker", run, "--stall-after", args.stall_after],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        for line in child.stdout:
            print("  worker> " + line.rstrip(), flush=True)
            if "stalling" in line:
                break
        child.send_signal(signal.SIGKILL)  # a crash between nodes
        child.wait(timeout=30)
        resume = alma.get_resume_point(run)
        print(
            f"worker killed (exit {child.returncode}); resume point: node "
            f"{resume.node_id if resume else None}, seq {resume.seq if resume else 0}"
        )

        state = run_pipeline(alma, ctx)
        results = state["results"]
        assert sorted(results) == sorted(set(results)) and len(results) == len(BRANCHES), results
        outcome = alma.learn_from_workflow(
            ctx,
            {
                "result": "success" if state["failed"] == 0 else "partial",
                "summary": f"regression suite: {state['report']}",
                "successful_patterns": ["run branches in parallel", "warm the cache before perf"],
                "failed_patterns": ["sleep-based waits in ui tests"] if state["failed"] else [],
                "node_count": len(state["done"]) + len(BRANCHES),
            },
            agent=AGENT,
        )
        artifact = alma.link_artifact(
            outcome.id, "report", f"file:///reports/{run}.txt", mime_type="text/plain"
        )
        found = alma.retrieve("regression suite report", AGENT, include_workflow_outcomes=True)
        final = alma.get_resume_point(run)
        print(
            f"learned workflow outcome {outcome.id} ({outcome.result}); artifact "
            f"{artifact.storage_url}; retrievable: "
            f"{outcome.id in {w.id for w in found.workflow_outcomes}}"
        )
        print(
            f"done: {len(state['done'])} main nodes, checkpoints kept after cleanup: "
            f"main seq {final.seq if final else None}; results {results}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
