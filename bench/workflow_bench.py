"""Workflow layer: checkpoint write/read, scoped retrieval at 10k memories, merge of 5
branch states, workflow outcome save, against ALMA's published targets.

    python bench/workflow_bench.py [--memories 10000] [--n 200] [--out FILE]

Runs on the embedded server (data in .alma/bench-pgdata) unless ALMA_BENCH_ADMIN_URL is
set (see saver_bench.py), with the offline HashingEmbeddings (256 dims). Prints one JSON
object and a table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from memory_bench import AGENTS, EMBED, _pct, fill  # noqa: E402
from saver_bench import Databases, _with_db, text  # noqa: E402

from langgraph_alma.alma import Alma  # noqa: E402
from langgraph_alma.memory.core import AntiPatternWarning  # noqa: E402
from langgraph_alma.reducers import ReducerConfig  # noqa: E402
from langgraph_alma.store import AlmaStore  # noqa: E402
from langgraph_alma.workflow import RetrievalScope, WorkflowContext  # noqa: E402

TARGETS_MS = {  # ALMA's targets
    "checkpoint_write_p95": 50.0,
    "checkpoint_read_p95": 20.0,
    "scoped_retrieval_p95": 200.0,
    "merge_5_branches_p95": 10.0,
    "workflow_outcome_save_p95": 100.0,
}


def _time(n: int, call: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _stats(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(xs), "p95_ms": _pct(xs, 0.95), "n": len(xs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore", AntiPatternWarning)  # failures are part of the load
    dbs, rng, n = Databases(), random.Random(1), args.n
    report: dict[str, dict[str, float]] = {}
    try:
        url, _ = dbs.pair("workflow")
        admin = _with_db(dbs.admin, urlsplit(url).path[1:])
        index = {"dims": 256, "embed": EMBED, "fields": ["text"]}
        with Alma.connect(
            url, tenant_id="bench", project_id="p", embeddings=EMBED, setup=False
        ) as alma:
            with AlmaStore.from_conn_string(admin, index=index) as admin_store:
                admin_store.setup()  # the vector index, as the migration role
            run = f"run-{uuid.uuid4().hex[:8]}"
            ctx = WorkflowContext(tenant_id="bench", workflow_id="wf-0", run_id=run)
            # A state that grows as a run goes: a message log (stored as deltas), counters.
            messages: list[str] = []

            def write(i: int) -> None:
                nonlocal messages
                messages = [*messages, text(i, 30)]
                state = {"messages": messages, "step": i, "results": {"passed": i, "failed": 0}}
                alma.checkpoint(ctx.with_node(f"n{i % 7}"), f"n{i % 7}", state)

            report["checkpoint_write"] = _stats(_time(n, write))
            report["checkpoint_read"] = _stats(_time(n, lambda i: alma.get_resume_point(run)))
            alma.saver._core.memory.forget("bench", [run])  # a fresh process's first read
            report["checkpoint_read_cold"] = _stats(_time(1, lambda i: alma.get_resume_point(run)))

            fill(alma, args.memories, rng)
            for i in range(50):  # some memories carry workflow scope
                alma.learn(
                    AGENTS[i % 20],
                    text(i, 10),
                    "success",
                    f"strategy {i % 7}",
                    context={"workflow_id": f"wf-{i % 5}", "run_id": run},
                )

            def scoped(i: int) -> None:
                scope_ctx = WorkflowContext(workflow_id=f"wf-{i % 5}")
                alma.retrieve(
                    text(10**6 + i, 8),
                    AGENTS[i % 20],
                    context=scope_ctx,
                    scope=RetrievalScope.WORKFLOW,
                    include_workflow_outcomes=True,
                )

            report["scoped_retrieval_10k"] = _stats(_time(100, scoped))

            config = ReducerConfig(
                field_reducers={
                    "results": "append",
                    "passed": "sum",
                    "slowest_ms": "max",
                    "seen": "union",
                    "meta": "merge_dict",
                },
                default_reducer="last_value",
            )
            branches = [
                {
                    "results": [text(b * 10 + j, 5) for j in range(20)],
                    "passed": 20 + b,
                    "slowest_ms": 100 * b,
                    "seen": [f"s{j}" for j in range(b, b + 30)],
                    "meta": {"branch": b, "host": f"h{b}"},
                    "owner": f"b{b}",
                }
                for b in range(5)
            ]
            report["merge_5_branches"] = _stats(
                _time(1000, lambda i: alma.merge_states(ctx, branches, config))
            )

            def outcome(i: int) -> None:
                alma.learn_from_workflow(
                    WorkflowContext(workflow_id=f"wf-{i % 5}", run_id=f"{run}-{i}"),
                    {
                        "result": "success" if i % 4 else "failure",
                        "summary": text(i, 12),
                        "successful_patterns": [f"pattern {i % 3}"],
                        "failed_patterns": [] if i % 4 else [f"bad pattern {i % 2}"],
                    },
                    cleanup_checkpoints=False,
                    agent=AGENTS[i % 20],
                )

            report["workflow_outcome_save"] = _stats(_time(100, outcome))
    finally:
        dbs.drop_all()
    checks = {
        "checkpoint_write_p95": report["checkpoint_write"]["p95_ms"],
        "checkpoint_read_p95": report["checkpoint_read"]["p95_ms"],
        "scoped_retrieval_p95": report["scoped_retrieval_10k"]["p95_ms"],
        "merge_5_branches_p95": report["merge_5_branches"]["p95_ms"],
        "workflow_outcome_save_p95": report["workflow_outcome_save"]["p95_ms"],
    }
    out = {
        "command": " ".join(["python", *sys.argv]),
        "results": report,
        "targets_ms": TARGETS_MS,
        "meets_targets": {k: v < TARGETS_MS[k] for k, v in checks.items()},
    }
    print(json.dumps(out, indent=2))
    print(f"\n{'operation':<28}{'p50 ms':>9}{'p95 ms':>9}{'target':>9}  ok")
    for (name, r), key in zip(
        [
            (k, report[k])
            for k in (
                "checkpoint_write",
                "checkpoint_read",
                "scoped_retrieval_10k",
                "merge_5_branches",
                "workflow_outcome_save",
            )
        ],
        checks,
        strict=True,
    ):
        print(
            f"{name:<28}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{TARGETS_MS[key]:>9.0f}  "
            f"{'yes' if out['meets_targets'][key] else 'NO'}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
