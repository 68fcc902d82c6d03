"""The runnable examples in `examples/`: each `main()` against the test database, with the
behaviour its narration claims asserted, and each script run as a real process."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from langgraph_alma import TenantMismatch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OFFLINE = ("OPENAI_API_KEY", "ALMA_OPENAI_API_KEY")  # scripted model, rule-based extraction


@pytest.fixture
def example(monkeypatch):
    """`example("chat_agent")`: the example module, imported as its script would import
    its siblings (the examples directory first on the path)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in OFFLINE:
        monkeypatch.delenv(name, raising=False)

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    return load


def test_chat_agent_answers_a_new_thread_from_long_term_memory(database, example) -> None:
    chat = example("chat_agent")
    seen = chat.main(url=database.url)
    assert "nothing about your setup" in seen["before"] and "PostgreSQL" not in seen["before"]
    assert "prefer concise answers" in seen["learned"]
    assert "My project uses PostgreSQL" in seen["learned"]
    assert seen["thread_1_messages"] == 6  # three turns kept by the checkpointer
    # The new thread holds only its own question and answer, yet the answer uses both
    # memories: the fact, and the preference (one sentence, no "longer version").
    assert seen["after_messages"] == 2
    assert "prefer concise answers" in seen["after_prompt"]
    assert "your project uses PostgreSQL" in seen["after"]
    assert "longer version" not in seen["after"]
    # Bob shares the agent's knowledge but not Ana's preference.
    assert "PostgreSQL" in seen["bob"] and "longer version" in seen["bob"]


def test_coding_agent_ranking_learns_the_strategy_that_works(database, example) -> None:
    coding = example("coding_agent")
    seen = coding.main(url=database.url)
    runs = seen["runs"]
    assert len(runs) == len(coding.TASKS)
    assert runs[0]["ranked"][0] != coding.ROOT_CAUSE  # nothing learned yet: a tie
    assert [r["success"] for r in runs[:6]] == [False, False, True] * 2  # exploration
    for run in runs[3:]:  # from the first success on, the working fix ranks first
        assert run["ranked"][0] == coding.ROOT_CAUSE
    assert all(r["chosen"] == coding.ROOT_CAUSE and r["success"] for r in runs[6:])
    assert sorted(seen["anti_patterns"]) == [
        (coding.SLEEP, coding.ROOT_CAUSE),
        (coding.RERUN, coding.ROOT_CAUSE),
    ]
    assert "## Avoid" in seen["prompt"]
    assert f"{coding.ROOT_CAUSE} (confidence" in seen["prompt"]
    assert coding.ROOT_CAUSE in runs[-1]["memories"]  # the initializer's prompt
    assert "credentials" in seen["refused"]  # the coding domain excludes it


def test_research_workflow_merges_parallel_branches_and_resumes(database, example) -> None:
    research = example("research_workflow")
    first, second = research.main(url=database.url)
    for run, question in zip((first, second), research.QUESTIONS, strict=True):
        final = run["final"]
        assert run["paused_before"] == ["synthesize"]
        assert run["paused_findings"] == len(research.LIBRARY)
        # Each branch ran once: resuming on a new saver re-ran none.
        assert sorted(run["researched"]) == sorted(research.LIBRARY)
        assert final["question"] == question
        assert sorted(f.split(":")[0] for f in final["findings"]) == sorted(research.LIBRARY)
        assert final["sources"] == {t: s for t, (_, s, _) in research.LIBRARY.items()}
        assert final["sources_read"] == 5 and final["best_confidence"] == 0.9
        assert all(f in final["report"] for f in final["findings"])
        assert run["merge_equals_graph"] and run["merged"]["findings"] == final["findings"]
        assert len(run["artifacts"]) == 1 and run["artifacts"][0].endswith(".md")
    assert first["final"]["recalled"] == 0  # a fresh project
    assert second["final"]["recalled"] > 0  # the first run, learned


def test_multi_tenant_isolation(database, example) -> None:
    multi = example("multi_tenant")
    seen = multi.main(url=database.url, admin_url=database.admin_url)
    for tenant, mine in multi.TENANTS.items():
        others = [db for t, db in multi.TENANTS.items() if t != tenant]
        thread_text = " ".join(seen[tenant]["thread"])
        assert mine in thread_text and not any(db in thread_text for db in others)
        assert f"your project uses {mine}" in seen[tenant]["answer"]
        assert not any(db in seen[tenant]["answer"] for db in others)
    assert seen["acme_store_finds_globex"] == []
    visible = seen["rows_visible_as_acme"]
    assert set(visible["store"]) == {"acme"} and set(visible["checkpoints"]) == {"acme"}
    assert isinstance(seen["mismatch"], TenantMismatch)
    assert {"acme", "globex"} <= set(seen["tenants"])
    assert seen["admin_reads_globex"]
    assert seen["admin_checkpoints"] == {
        "acme": visible["checkpoints"]["acme"],
        "globex": visible["checkpoints"]["acme"],  # same graph, same thread id, same steps
    }


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("chat_agent.py", "your project uses PostgreSQL"),
        ("coding_agent.py", "Anti-patterns learned"),
        ("research_workflow.py", "equals the graph's: True"),
        ("multi_tenant.py", "TenantMismatch"),
    ],
)
def test_script_runs(database, script: str, says: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE}
    env["ALMA_DATABASE_URL"], env["ALMA_ADMIN_DATABASE_URL"] = database.url, database.admin_url
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert says in done.stdout
