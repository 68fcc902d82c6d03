"""Forward-looking confidence end to end: the real `ConfidenceEngine` over `Alma` on
PostgreSQL, against a backward-looking success rate, in a world that shifts halfway.

    python bench/confidence_e2e.py [--steps 400] [--seeds 0,1,2] [--out FILE]

The world is `bench/confidence_sim.py`'s: tasks from 4 contexts, each with its own words;
4 strategies whose true success probability depends on the context (and drifts slowly);
the first half of the run draws tasks from contexts 0-1, the second half from contexts
2-3, where other strategies work. Nothing here is the pure model: every step

1. asks `ConfidenceEngine.rank_strategies(STRATEGIES, task, agent)` (one `Alma.retrieve`
   of the agent's memories, hybrid search with the default embeddings, `ALMA_EMBEDDINGS`,
   `hashing:256` unless set), and picks the best strategy (a random one with probability
   `--epsilon`, to keep exploring);
2. records both predictions of the chosen strategy's success: the engine's
   `predicted_success`, and the backward-looking one, the strategy's historical success
   rate (Laplace) over all its past outcomes, context ignored;
3. draws the outcome and `Alma.learn`s it (heuristics and anti-patterns follow).

Accuracy (predicted success > 0.5 vs the outcome) and Brier score, overall, before and
after the shift and in the first 100 steps after it, averaged over the seeds; an oracle
knowing the true probability shows the ceiling. Each seed runs in a fresh project of a
fresh database on the embedded server (data in .alma/bench-pgdata) unless
ALMA_BENCH_ADMIN_URL is set. Prints one JSON object and a table.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confidence_sim import STEPS_PER_DAY, STRATEGIES, _scores, make_task, table, true_p  # noqa: E402
from saver_bench import Databases, _with_db  # noqa: E402

from langgraph_alma.alma import Alma  # noqa: E402
from langgraph_alma.confidence import ConfidenceEngine  # noqa: E402
from langgraph_alma.config import get_settings  # noqa: E402
from langgraph_alma.embeddings import index_config  # noqa: E402
from langgraph_alma.memory.core import AntiPatternWarning  # noqa: E402
from langgraph_alma.store import AlmaStore  # noqa: E402

AGENT = "ops"
TASK_TYPE = "ops"


class SimClock:
    """Simulated time: `STEPS_PER_DAY` steps a day, so recency means what it means in
    the pure simulation."""

    def __init__(self) -> None:
        self.start = datetime(2026, 1, 1, tzinfo=UTC)
        self.day = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(days=self.day)


def run_seed(
    url: str, steps: int, seed: int, epsilon: float, window: int
) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    clock = SimClock()
    shift = steps // 2
    rows: list[tuple[float, float, bool, float]] = []
    record: dict[str, list[int]] = {s: [0, 0] for s in STRATEGIES}  # wins, tries
    with Alma.connect(
        url,
        tenant_id="bench",
        project_id=f"confidence-{seed}-{uuid.uuid4().hex[:6]}",
        embeddings=get_settings().embeddings,
        embedding_dims=get_settings().embedding_dims,
        setup=False,
        clock=clock,
    ) as alma:
        engine = ConfidenceEngine(alma)
        for t in range(steps):
            clock.day = t / STEPS_PER_DAY
            context = rng.choice((0, 1) if t < shift else (2, 3))
            task = make_task(rng, context).text
            ranked = dict(engine.rank_strategies(STRATEGIES, task, AGENT))
            if rng.random() < epsilon:
                choice = rng.randrange(len(STRATEGIES))
            else:
                best = max(STRATEGIES, key=lambda s: ranked[s].predicted_success)
                choice = STRATEGIES.index(best)
            strategy = STRATEGIES[choice]
            wins, tries = record[strategy]
            forward, backward = ranked[strategy].predicted_success, (wins + 1) / (tries + 2)
            p = true_p(context, choice, clock.day)
            success = rng.random() < p
            rows.append((forward, backward, success, p))
            record[strategy] = [wins + success, tries + 1]
            alma.learn(AGENT, task, success, strategy, task_type=TASK_TYPE)
    return {
        "overall": _scores(rows),
        "before_shift": _scores(rows[:shift]),
        "after_shift": _scores(rows[shift:]),
        "just_after_shift": _scores(rows[shift : shift + window]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epsilon", type=float, default=0.25)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    warnings.simplefilter("ignore", AntiPatternWarning)  # the world is full of them
    dbs = Databases()
    started = time.perf_counter()
    try:
        url, _ = dbs.pair("confidence")
        admin = _with_db(dbs.admin, urlsplit(url).path[1:])
        settings = get_settings()
        index = index_config(settings.embeddings, settings.embedding_dims)
        with AlmaStore.from_conn_string(admin, index=index) as admin_store:
            admin_store.setup()  # the vector index, as the migration role
        runs = [run_seed(url, args.steps, s, args.epsilon, args.window) for s in seeds]
    finally:
        dbs.drop_all()
    summary = {
        segment: {
            k: round(statistics.fmean(r[segment][k] for r in runs), 4) for k in runs[0][segment]
        }
        for segment in runs[0]
    }
    result = {
        "command": " ".join(["python", *sys.argv]),
        "steps": args.steps,
        "seeds": seeds,
        "epsilon": args.epsilon,
        "embeddings": settings.embeddings,
        "strategies": STRATEGIES,
        "summary": summary,
        "per_seed": {str(s): r for s, r in zip(seeds, runs, strict=True)},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "per_seed"}, indent=2))
    print(table(result).replace("acc fwd", "acc eng").replace("brier fwd", "brier eng"))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
