"""ALMA memory layer: learn and retrieve latency at 1k, 10k (and 100k) memories, and
learn latency against the number of past outcomes of the strategy learned.

    python bench/memory_bench.py [--sizes 1000,10000,100000] [--queries 100]
                                 [--learn-outcomes 1000,50000] [--learns 50]

Runs on the embedded server (data in .alma/bench-pgdata) unless ALMA_BENCH_ADMIN_URL is
set, with the offline HashingEmbeddings (256 dims) so hybrid search runs both sides.
ALMA's published targets: scoped retrieval < 200 ms; we aim at 10x under (< 20 ms p95).
Prints one JSON object and a table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from saver_bench import Databases, _with_db, text  # noqa: E402

from langgraph_alma.alma import Alma  # noqa: E402
from langgraph_alma.embeddings import HashingEmbeddings  # noqa: E402
from langgraph_alma.memory import DomainKnowledge, Outcome  # noqa: E402
from langgraph_alma.memory import items as it  # noqa: E402
from langgraph_alma.store import AlmaStore  # noqa: E402

EMBED = HashingEmbeddings(256)
AGENTS = [f"agent-{i}" for i in range(20)]
TASK_TYPES = [f"type-{i}" for i in range(50)]


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def fill(alma: Alma, n: int, rng: random.Random) -> None:
    """n memories (half outcomes, half facts) over 20 agents, written in batches of 1000."""
    from langgraph.store.base import PutOp

    batch: list[PutOp] = []
    for i in range(n):
        agent = rng.choice(AGENTS)
        if i % 2:
            m = Outcome(
                task_type=rng.choice(TASK_TYPES),
                task_description=text(i, 12),
                success=rng.random() < 0.7,
                strategy_used=text(-i, 5),
            )
        else:
            m = DomainKnowledge(domain="ops", fact=text(i, 12))
        m.agent, m.tenant_id, m.project_id = agent, alma.core.tenant_id, alma.core.project_id
        batch.append(PutOp(it.namespace(m), m.id, it.to_value(m), index=["text"]))
        if len(batch) == 1000:
            alma.store.batch(batch)
            batch = []
    if batch:
        alma.store.batch(batch)


def learn_scaling(alma: Alma, sizes: list[int], learns: int) -> dict[str, float]:
    """learn p50 (ms) of one agent's strategy after `size` past outcomes of it: a learn
    updates running counts, so it should not grow with the outcomes."""
    from langgraph.store.base import PutOp

    result: dict[str, float] = {}
    loaded, agent, strategy = 0, "learner", "retry with backoff"
    for size in sizes:
        batch: list[PutOp] = []
        for i in range(loaded, size):
            m = Outcome(
                task_type="scaling",
                task_description=text(i, 8),
                success=i % 3 != 0,
                strategy_used=strategy,
            )
            m.agent, m.tenant_id, m.project_id = agent, alma.core.tenant_id, alma.core.project_id
            batch.append(PutOp(it.namespace(m), m.id, it.to_value(m), index=False))
            if len(batch) == 2000:
                alma.store.batch(batch)
                batch = []
        if batch:
            alma.store.batch(batch)
        loaded = size
        alma.learn(agent, "warm up", "success", strategy, task_type="scaling")  # first: repair
        times = []
        for q in range(learns):
            t0 = time.perf_counter()
            alma.learn(agent, text(q, 8), "success", strategy, task_type="scaling")
            times.append((time.perf_counter() - t0) * 1000)
        result[str(size)] = statistics.median(times)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--learn-outcomes", default="1000,50000")
    parser.add_argument("--learns", type=int, default=50)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    scaling: dict[str, float] = {}
    dbs = Databases()
    rng = random.Random(1)
    report: dict[str, dict[str, float]] = {}
    try:
        url, _ = dbs.pair("memory")
        admin = _with_db(dbs.admin, urlsplit(url).path[1:])
        index = {"dims": 256, "embed": EMBED, "fields": ["text"]}
        with Alma.connect(
            url, tenant_id="bench", project_id="p", embeddings=EMBED, setup=False
        ) as alma:
            with AlmaStore.from_conn_string(admin, index=index) as admin_store:
                admin_store.setup()  # the vector index, as the migration role
            loaded = 0
            for size in (int(s) for s in args.sizes.split(",")):
                start = time.perf_counter()
                fill(alma, size - loaded, rng)
                load_s = time.perf_counter() - start
                loaded = size
                retrieve, scoped, learn = [], [], []
                for q in range(args.queries):
                    agent = rng.choice(AGENTS)
                    t0 = time.perf_counter()
                    alma.retrieve(text(10**6 + q, 8), agent=agent)
                    retrieve.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    alma.learn(
                        agent,
                        text(q, 10),
                        "success" if q % 3 else "failure",
                        f"strategy {q % 7}",
                        task_type=rng.choice(TASK_TYPES),
                    )
                    learn.append((time.perf_counter() - t0) * 1000)
                    ctx = {"workflow_id": f"wf-{q % 5}"}
                    t0 = time.perf_counter()
                    alma.retrieve(text(q, 8), agent=agent, context=ctx, scope="workflow")
                    scoped.append((time.perf_counter() - t0) * 1000)
                report[str(size)] = {
                    "load_s": load_s,
                    "retrieve_p50_ms": statistics.median(retrieve),
                    "retrieve_p95_ms": _pct(retrieve, 0.95),
                    "scoped_retrieve_p95_ms": _pct(scoped, 0.95),
                    "learn_p50_ms": statistics.median(learn),
                    "learn_p95_ms": _pct(learn, 0.95),
                }
            sizes = [int(s) for s in args.learn_outcomes.split(",") if s]
            if sizes:
                scaling = learn_scaling(alma, sizes, args.learns)
    finally:
        dbs.drop_all()
    out = {
        "command": " ".join(["python", *sys.argv]),
        "memories": report,
        "learn_p50_ms_by_past_outcomes": scaling,
        "learn_p50_ratio_largest_to_smallest": (
            max(scaling.items(), key=lambda kv: int(kv[0]))[1]
            / min(scaling.items(), key=lambda kv: int(kv[0]))[1]
            if len(scaling) > 1
            else None
        ),
        "target_ms": {"scoped_retrieval_p95": 20.0},
        "run": uuid.uuid4().hex[:8],
    }
    print(json.dumps(out, indent=2))
    print(
        f"\n{'memories':>9}{'retrieve p50':>14}{'p95':>8}{'scoped p95':>12}"
        f"{'learn p50':>11}{'p95':>8}  (ms)"
    )
    for size, r in report.items():
        print(
            f"{size:>9}{r['retrieve_p50_ms']:>14.1f}{r['retrieve_p95_ms']:>8.1f}"
            f"{r['scoped_retrieve_p95_ms']:>12.1f}{r['learn_p50_ms']:>11.1f}"
            f"{r['learn_p95_ms']:>8.1f}"
        )
    if scaling:
        print(f"\n{'past outcomes':>14}{'learn p50':>11}  (ms, one strategy)")
        for size, p50 in scaling.items():
            print(f"{size:>14}{p50:>11.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
