"""The demo graph learns across runs, and says so: heuristics gain confidence,
anti-patterns are recorded, the ranking changes, the run resumes from the database and
another tenant sees none of it; it ends with the `alma` commands that show what it
stored, and they do."""

from __future__ import annotations

import itertools
import os
import re
import shlex
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


def _alma(command: str, env: dict[str, str] | None = None) -> str:
    """Run a printed `alma ...` line as the `alma` command would (same interpreter)."""
    args = shlex.split(command)
    assert args[0] == "alma"
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_ends_with_commands_that_show_what_it_stored(database) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "demo", "--runs", "7"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    tail = [line.strip() for line in done.stdout.splitlines()[-4:]]
    assert tail[0] == "See what it stored:"
    project = re.search(r"project '(demo-[0-9a-f]+)'", done.stdout).group(1)
    threads, memories, history = tail[1:]
    for command in tail[1:]:
        assert command.startswith(f"alma --tenant acme --project {project} ")
    # Every run of this demo, listed for its tenant (the default tenant has none of them).
    listed = _alma(threads)
    assert all(f"{project}-run-{i}" in listed for i in range(1, 8)), listed
    assert "threads of tenant 'acme' (7)" in listed
    assert project not in _alma("alma threads --limit 200")
    # What the agent learned, scored: the strategy that works and the anti-patterns.
    found = _alma(memories)
    assert f"when task type is ops: {WORKS} (confidence" in found
    assert "anti-patterns (2)" in found and "don't: restart the worker." in found
    # The last run's checkpoints, newest first, with the nodes that ran.
    assert history.endswith(f"history {project}-run-7")
    shown = _alma(history)
    assert f"history of thread '{project}-run-7'" in shown
    assert all(node in shown for node in ("init", "rank", "work", "learn"))


def test_demo_on_a_given_url_prints_commands_with_that_url(database) -> None:
    lines: list[str] = []
    seen = run(database.admin_url, out=lines.append, runs=7)  # a URL that may migrate
    assert lines[-3:] == [f"  {c}" for c in seen["commands"]]
    # The commands work on their own: no ALMA_DATABASE_URL to fall back on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMA_")}
    listed = _alma(seen["commands"][0], env)
    assert shlex.split(seen["commands"][0])[1:3] == ["--url", database.admin_url]
    assert f"{seen['project']}-run-7" in listed and "(7)" in listed
