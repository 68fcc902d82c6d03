"""The demo graph learns across runs, and says so: heuristics gain confidence,
anti-patterns are recorded, the ranking changes, the run resumes from the database and
another tenant sees none of it."""

from __future__ import annotations

import itertools
import subprocess
import sys

from langgraph_alma.demo import STRATEGIES, WORKS, run


def test_demo_learns_across_runs(database) -> None:
    lines: list[str] = []
    seen = run(out=lines.append, runs=9)
    runs = seen["runs"]
    assert not runs[0]["knew_before"] and runs[-1]["knew_before"]
    # Exploration: every strategy tried twice, and only one works.
    assert [r["strategy"] for r in runs[:6]] == [s for s in STRATEGIES for _ in range(2)]
    assert [r["success"] for r in runs[:6]] == [False] * 4 + [True] * 2
    # Exploitation: the ranking now puts the strategy that works first, and it keeps working.
    assert runs[0]["top"] != WORKS or len({r["top"] for r in runs}) > 1
    assert all(r["top"] == WORKS and r["strategy"] == WORKS and r["success"] for r in runs[6:])
    confidence = [c for c in seen["confidence"] if c is not None]
    assert len(confidence) >= 4 and all(b > a for a, b in itertools.pairwise(confidence))
    assert set(seen["anti_patterns"]) == {"restart the worker", "increase the timeout"}
    assert seen["heuristics"][WORKS] == confidence[-1]
    assert seen["resumed"] == {"strategy": WORKS, "outcome": "success"}
    assert seen["checkpoints"] >= 5 and seen["threads"] == 9
    assert seen["other_tenant_sees"] is None and seen["other_tenant_memories"] == []
    text = "\n".join(lines)
    assert "anti-pattern recorded: 'restart the worker'" in text
    assert f"confidence of {WORKS!r}" in text
    assert f"The agent now ranks {WORKS!r} first" in text


def test_demo_command(database) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "demo", "--runs", "7"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "anti-pattern recorded" in done.stdout
    assert f"run 7: strategy {WORKS!r}, outcome 'success'" in done.stdout
