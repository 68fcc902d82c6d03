"""Confidence engine simulation: forward-looking vs backward-looking success prediction.

    python bench/confidence_sim.py [--steps 800] [--seeds 0,1,2,3,4] [--out FILE]

Pure Python, no database: the engine's pure core (`langgraph_alma.confidence.forecast`) runs
on an in-memory evidence list. Tasks come from 4 contexts, each with its own words; 4
strategies have a true success probability that depends on the context and drifts over
time (a slow sine). The first half of the run draws tasks from contexts 0-1, the second
half from contexts 2-3 (the context shift), where the best strategies differ.

Each step an agent gets a task, picks a strategy (epsilon-greedy on the forward model),
both models predict its success before the outcome is drawn, and the outcome joins the
evidence. Models:

* forward: `forecast.posterior` - a prior from the strategy's overall record (what a
  heuristic holds), discounted, plus outcomes weighted by task similarity (word-set cosine,
  standing in for search similarity) and recency;
* baseline: the strategy's historical success rate (Laplace), ignoring context and time.

Scored on accuracy (predict success when p > 0.5) and Brier score, overall, before and
after the shift, and in the first 100 steps after it. Prints one JSON object and a table.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph_alma.confidence import forecast  # noqa: E402
from langgraph_alma.confidence.forecast import Evidence, Prior  # noqa: E402

CONTEXT_WORDS = [
    ["invoice", "ledger", "refund", "billing", "tax"],
    ["login", "password", "oauth", "session", "token"],
    ["chart", "dashboard", "widget", "layout", "theme"],
    ["kafka", "queue", "consumer", "broker", "partition"],
]
GENERIC_WORDS = ["fix", "update", "handle", "check"]
STRATEGIES = ["retry with backoff", "rewrite from spec", "bisect the change", "pair review"]
# true success probability: TRUE_P[context][strategy]
TRUE_P = [
    [0.90, 0.20, 0.50, 0.30],
    [0.20, 0.85, 0.30, 0.60],
    [0.15, 0.30, 0.90, 0.20],
    [0.30, 0.10, 0.20, 0.90],
]
DRIFT = 0.1  # amplitude of the sine drift of every true probability
DRIFT_PERIOD_DAYS = 40.0
STEPS_PER_DAY = 10


@dataclass(frozen=True)
class Task:
    context: int
    words: frozenset[str]

    @property
    def text(self) -> str:
        return " ".join(sorted(self.words))


def make_task(rng: random.Random, context: int) -> Task:
    words = rng.sample(CONTEXT_WORDS[context], 4) + rng.sample(GENERIC_WORDS, 1)
    return Task(context, frozenset(words))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


def true_p(context: int, strategy: int, day: float) -> float:
    phase = 2 * math.pi * (day / DRIFT_PERIOD_DAYS + (context * 4 + strategy) / 16)
    return min(0.98, max(0.02, TRUE_P[context][strategy] + DRIFT * math.sin(phase)))


@dataclass
class _Past:
    words: frozenset[str]
    strategy: str
    success: bool
    day: float


def _evidence(task: Task, past: list[_Past], day: float) -> list[Evidence]:
    return [
        Evidence(p.strategy, p.success, similarity(task.words, p.words), day - p.day) for p in past
    ]


def _prior(strategy: str, past: list[_Past]) -> Prior | None:
    mine = [p for p in past if p.strategy == strategy]
    return Prior(sum(p.success for p in mine), len(mine)) if mine else None


def _scores(rows: list[tuple[float, float, bool, float]]) -> dict[str, float]:
    """Accuracy and Brier of the forward and baseline predictions in rows, with an
    oracle that knows the true probability (the best any model can do) for reference."""
    if not rows:
        return {}
    n = len(rows)
    return {
        "n": n,
        "forward_accuracy": sum((f > 0.5) == y for f, _, y, _ in rows) / n,
        "baseline_accuracy": sum((b > 0.5) == y for _, b, y, _ in rows) / n,
        "oracle_accuracy": sum((p > 0.5) == y for _, _, y, p in rows) / n,
        "forward_brier": sum((f - y) ** 2 for f, _, y, _ in rows) / n,
        "baseline_brier": sum((b - y) ** 2 for _, b, y, _ in rows) / n,
        "oracle_brier": sum((p - y) ** 2 for _, _, y, p in rows) / n,
    }


def simulate(
    steps: int = 800,
    seed: int = 0,
    epsilon: float = 0.25,
    config: forecast.ModelConfig = forecast.DEFAULT,
    window_after_shift: int = 100,
) -> dict[str, dict[str, float]]:
    """One run; returns scores per segment (overall, before/after the shift, the first
    `window_after_shift` steps after it)."""
    rng = random.Random(seed)
    shift = steps // 2
    past: list[_Past] = []
    rows: list[tuple[float, float, bool, float]] = []
    for t in range(steps):
        day = t / STEPS_PER_DAY
        context = rng.choice((0, 1) if t < shift else (2, 3))
        task = make_task(rng, context)
        ev = _evidence(task, past, day)
        forward = {s: forecast.posterior(s, ev, _prior(s, past), config).mean for s in STRATEGIES}
        if rng.random() < epsilon:
            choice = rng.randrange(len(STRATEGIES))
        else:
            choice = max(range(len(STRATEGIES)), key=lambda i: forward[STRATEGIES[i]])
        strategy = STRATEGIES[choice]
        f, b = forward[strategy], forecast.baseline(strategy, ev)
        p = true_p(context, choice, day)
        success = rng.random() < p
        rows.append((f, b, success, p))
        past.append(_Past(task.words, strategy, success, day))
    return {
        "overall": _scores(rows),
        "before_shift": _scores(rows[:shift]),
        "after_shift": _scores(rows[shift:]),
        "just_after_shift": _scores(rows[shift : shift + window_after_shift]),
    }


def run(steps: int, seeds: list[int], epsilon: float = 0.25) -> dict:
    runs = [simulate(steps, s, epsilon) for s in seeds]
    summary: dict[str, dict[str, float]] = {}
    for segment in runs[0]:
        summary[segment] = {
            k: round(statistics.fmean(r[segment][k] for r in runs), 4) for k in runs[0][segment]
        }
    return {
        "steps": steps,
        "seeds": seeds,
        "epsilon": epsilon,
        "contexts": len(CONTEXT_WORDS),
        "strategies": STRATEGIES,
        "summary": summary,
        "per_seed": {str(s): r for s, r in zip(seeds, runs, strict=True)},
    }


def table(result: dict) -> str:
    lines = [
        f"{'segment':<18}{'n':>6}{'acc fwd':>9}{'base':>7}{'oracle':>8}"
        f"{'brier fwd':>11}{'base':>7}{'oracle':>8}",
    ]
    for segment, s in result["summary"].items():
        lines.append(
            f"{segment:<18}{s['n']:>6.0f}{s['forward_accuracy']:>9.3f}"
            f"{s['baseline_accuracy']:>7.3f}{s['oracle_accuracy']:>8.3f}"
            f"{s['forward_brier']:>11.3f}{s['baseline_brier']:>7.3f}{s['oracle_brier']:>8.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--epsilon", type=float, default=0.25)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.steps, [int(s) for s in args.seeds.split(",")], args.epsilon)
    text = json.dumps({k: v for k, v in result.items() if k != "per_seed"}, indent=2)
    print(text)
    print(table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
