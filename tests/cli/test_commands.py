"""`alma threads`, `history`, `memories search`, `stats`, `forget`, `migrate`, `mcp` and
the way errors are reported, against a real database after real graph runs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from langgraph_alma.cli.output import error_line
from langgraph_alma.demo import AGENT, WORKS
from langgraph_alma.errors import ThreadNotFound


def test_threads_lists_the_tenants_graph_runs(alma_cli, seeded) -> None:
    done = alma_cli("--tenant", seeded.tenant, "threads")
    assert done.exit_code == 0, done.output
    for thread in seeded.threads:
        assert thread in done.stdout
    assert "nightly" in done.stdout and AGENT in done.stdout
    assert f"threads of tenant {seeded.tenant!r} ({len(seeded.threads)})" in done.stdout
    only = alma_cli("--tenant", seeded.tenant, "threads", "--agent", AGENT, "--limit", "2")
    assert only.exit_code == 0 and "(2)" in only.stdout and seeded.chat not in only.stdout
    # Another tenant sees none of them.
    other = alma_cli("--tenant", "someone-else", "threads")
    assert other.exit_code == 0 and seeded.threads[0] not in other.stdout


def test_history_shows_checkpoints_newest_first(alma_cli, seeded) -> None:
    thread = seeded.threads[0]
    done = alma_cli("--tenant", seeded.tenant, "history", thread)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    order = [n for n in ("learn", "work", "rank", "init") if any(f" {n} " in ln for ln in lines)]
    assert order == ["learn", "work", "rank", "init"]
    pos = {n: next(i for i, ln in enumerate(lines) if f" {n} " in ln) for n in order}
    assert pos["learn"] < pos["work"] < pos["rank"] < pos["init"]  # newest first
    assert "strategy" in done.stdout and "success" in done.stdout  # changed channels
    assert "input" in done.stdout and "loop" in done.stdout  # sources
    short = alma_cli("--tenant", seeded.tenant, "history", thread, "--limit", "2")
    assert short.exit_code == 0 and "2 shown" in short.stdout and " init " not in short.stdout


def test_unknown_thread_is_one_line_and_exit_1(alma_cli, seeded) -> None:
    done = alma_cli("--tenant", seeded.tenant, "history", "no-such-thread")
    assert done.exit_code == 1
    assert done.stderr == f"error: {ThreadNotFound('no-such-thread', seeded.tenant)}\n"
    assert done.stdout == ""


def test_memories_search_shows_what_was_learned(alma_cli, seeded) -> None:
    base = ("--tenant", seeded.tenant, "--project", seeded.project)
    # No embeddings on the command line (no --config): full-text search finds the words.
    done = alma_cli(*base, "memories", "search", "retry with backoff", "--agent", AGENT)
    assert done.exit_code == 0, done.output
    assert "heuristics" in done.stdout and WORKS in done.stdout
    assert "when task type is ops: retry with backoff" in done.stdout
    warned = alma_cli(*base, "memories", "search", "the job timed out", "--agent", AGENT)
    assert "anti-patterns (2)" in warned.stdout and "don't: restart the worker" in warned.stdout
    assert "failed: the nightly export job times out" in warned.stdout  # outcomes
    knowledge = alma_cli(*base, "memories", "search", "when does the export run", "-a", AGENT)
    assert "02:00 UTC" in knowledge.stdout
    nothing = alma_cli(*base, "memories", "search", "export", "--agent", "nobody")
    assert nothing.exit_code == 0 and "no memories of agent 'nobody'" in nothing.stdout
    everyone = alma_cli(*base, "memories", "search", "retry with backoff")  # every agent
    assert everyone.exit_code == 0 and WORKS in everyone.stdout


def test_searching_from_the_cli_does_not_reinforce(alma_cli, seeded, database) -> None:
    """Looking at memories is not using them: no usage item is written or bumped."""
    import psycopg

    def usage_rows() -> list:
        with psycopg.connect(database.admin_url) as conn:
            return conn.execute(
                "SELECT key, value FROM alma_store WHERE tenant_id = %s "
                "AND ns_path LIKE '%%usage%%' ORDER BY key",
                (seeded.tenant,),
            ).fetchall()

    before = usage_rows()
    base = ("--tenant", seeded.tenant, "--project", seeded.project)
    for args in (("--agent", AGENT), ()):
        done = alma_cli(*base, "memories", "search", "the job timed out", *args)
        assert done.exit_code == 0 and "anti-patterns" in done.stdout
    assert usage_rows() == before


def test_stats_counts_memories(alma_cli, seeded) -> None:
    done = alma_cli("--tenant", seeded.tenant, "--project", seeded.project, "stats")
    assert done.exit_code == 0, done.output
    rows = {
        cells[0]: cells[1]
        for line in done.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│┃ ").split("│")]) == 2
    }
    assert int(rows["domain_knowledge"]) == 1 and int(rows["user_preference"]) == 1
    assert int(rows["heuristic"]) >= 1 and int(rows["anti_pattern"]) >= 1
    assert int(rows["total"]) == sum(int(v) for k, v in rows.items() if k not in ("total", "kind"))


def test_forget_previews_asks_and_forgets(alma_cli, seeded) -> None:
    base = ("--tenant", seeded.tenant, "--project", seeded.project)
    policy = ("forget", "--agent", AGENT, "--below-confidence", "0.5")
    before = alma_cli(*base, "stats", "--agent", AGENT).stdout
    declined = alma_cli(*base, *policy, input="n\n")
    assert declined.exit_code == 1
    assert "would be forgotten" in declined.stdout and "restart the worker" in declined.stdout
    assert alma_cli(*base, "stats", "--agent", AGENT).stdout == before  # nothing removed
    done = alma_cli(*base, *policy, "--yes")
    assert done.exit_code == 0, done.output
    assert "forgot " in done.stdout
    again = alma_cli(*base, *policy, "--yes")
    assert again.exit_code == 0 and "nothing to forget" in again.stdout
    after = alma_cli(*base, "memories", "search", "retry with backoff", "-a", AGENT)
    assert f"when task type is ops: {WORKS}" in after.stdout  # confident: kept
    assert "when task type is ops: restart the worker" not in after.stdout  # forgotten
    assert "│ heuristic        │ 3 " in before
    assert "│ heuristic        │ 1 " in alma_cli(*base, "stats", "--agent", AGENT).stdout


def test_migrate(runner, alma_cli, database) -> None:
    from langgraph_alma.cli import app

    done = runner.invoke(app, ["migrate", "status"])  # as ALMA_ADMIN_DATABASE_URL
    assert done.exit_code == 0, done.output
    assert "0001  checkpoints" in done.stdout and "pending" not in done.stdout
    up = runner.invoke(app, ["--url", database.admin_url, "migrate", "up"])
    assert up.exit_code == 0 and up.stdout == "up to date\n"
    # The application role may not create tables: one line, exit 1.
    denied = alma_cli("migrate", "status")
    assert denied.exit_code == 1 and denied.stderr.startswith("error: permission denied")
    assert denied.stderr.count("\n") == 1


def test_mcp(runner) -> None:
    from langgraph_alma.cli import app

    helped = runner.invoke(app, ["mcp", "--help"])
    assert helped.exit_code == 0 and "--http" in helped.stdout and "--privileged" in helped.stdout
    if importlib.util.find_spec("langgraph_alma.mcp") is None:
        pytest.skip("langgraph_alma.mcp is not written yet")
    done = runner.invoke(app, ["mcp", "--http", "--host", "0.0.0.0"], env={"ALMA_MCP_TOKEN": ""})
    assert done.exit_code == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "ALMA_MCP_TOKEN" in done.stderr


def test_usage_errors_exit_2(runner) -> None:
    from langgraph_alma.cli import app

    assert runner.invoke(app, ["history"]).exit_code == 2  # THREAD missing
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_error_lines_are_one_line() -> None:
    import psycopg

    exc = psycopg.OperationalError("connection failed:\n  is the server running?")
    assert (
        error_line(exc)
        == "error: cannot reach the database: connection failed: is the server running?"
    )
    assert (
        error_line(FileNotFoundError(2, "No such file", "x.jsonl"))
        == "error: no such file: x.jsonl"
    )


def test_subprocess_bad_url_is_one_line(database) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "langgraph_alma",
            "--url",
            "postgresql://nobody@127.0.0.1:1/x",
            "stats",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: cannot reach the database: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(("flag", "env"), [(["--debug"], {}), ([], {"ALMA_DEBUG": "1"})])
def test_debug_shows_the_traceback(database, flag, env) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", *flag, "history", "no-such-thread"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ThreadNotFound" in done.stderr


def test_the_project_defaults_to_the_setting(alma_cli, seeded, monkeypatch) -> None:
    monkeypatch.setenv("ALMA_PROJECT_ID", seeded.project)
    done = alma_cli("--tenant", seeded.tenant, "stats")
    assert done.exit_code == 0 and f"project {seeded.project!r}" in done.stdout


def test_mcp_without_the_extra(runner, monkeypatch) -> None:
    from langgraph_alma.cli import app
    from langgraph_alma.cli.admin import MCP_MISSING

    if importlib.util.find_spec("langgraph_alma.mcp") is None:
        pytest.skip("langgraph_alma.mcp is not written yet")
    # As if the `mcp` package were not installed: importing it fails.
    for name in [
        m for m in sys.modules if m == "mcp" or m.startswith(("mcp.", "langgraph_alma.mcp"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mcp", None)
    done = runner.invoke(app, ["mcp"])
    assert done.exit_code == 1
    assert done.stderr == f"error: {MCP_MISSING}\n"
