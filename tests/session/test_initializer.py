"""SessionInitializer: prompt to work items, codebase orientation with git, memories,
rules and gates, and a first item to start with."""

from __future__ import annotations

import subprocess

from langgraph_alma.session.initializer import SessionInitializer, expand_prompt, orient


def test_expand_prompt_is_deterministic() -> None:
    assert expand_prompt("- add login\n- test login\nnotes") == ["add login", "test login"]
    assert expand_prompt("fix the bug; then write a test") == ["fix the bug", "write a test"]
    assert expand_prompt("one thing") == ["one thing"]


def test_orient_reads_git_and_fails_gracefully(tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("x = 1\n")
    (repo / "README.md").write_text("hi\n")

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "first commit")
    (repo / "src" / "app.py").write_text("x = 2\n")
    seen = orient(repo)
    assert seen.error is None and seen.branch == "main"
    assert seen.changed_files == ["src/app.py"]
    assert seen.layout == ["README.md", "src"]
    assert len(seen.recent_commits) == 1 and "first commit" in seen.recent_commits[0]
    outside = orient(tmp_path / "not-a-repo")
    assert outside.error and outside.branch is None  # no exception outside a repo


def test_initialize_creates_items_and_carries_memories_and_rules(alma, project, tmp_path) -> None:
    for i in range(3):
        alma.learn(
            "helena", f"test form {i}", "success", "fill required fields first", task_type="forms"
        )
    for i in range(2):
        alma.learn(
            "helena",
            f"test form {i}",
            "failure",
            "sleep before asserting",
            task_type="forms",
            error_message="flaky",
        )
    result = SessionInitializer(alma).initialize(
        project, "helena", "1. test the signup form\n2. test the login form", codebase_path=tmp_path
    )
    assert [w.title for w in result.work_items] == ["test the signup form", "test the login form"]
    assert result.recommended is not None and result.recommended.title == "test the signup form"
    assert "Learn only about: testing, forms" in result.rules
    assert any("sleep before asserting" in c for c in result.constraints)
    assert any("fill required fields first" in g for g in result.quality_gates)
    assert result.orientation is not None and result.orientation.error  # not a repo: said
    prompt = result.to_prompt()
    assert "Start with: test the signup form" in prompt and "Relevant strategies" in prompt


def test_initializer_expands_with_the_configured_extractor(alma, project) -> None:
    class Planner:  # any extractor: here one that plans in a fixed way
        def expand_tasks(self, prompt: str) -> list[str]:
            return ["write the migration", "backfill the column", "drop the old column"]

    result = SessionInitializer(alma, extractor=Planner()).initialize(
        project, "helena", "rename the column safely"
    )
    assert [w.title for w in result.work_items] == [
        "write the migration",
        "backfill the column",
        "drop the old column",
    ]
    assert result.recommended.title == "write the migration"
    plain = SessionInitializer(alma).initialize(
        project, "helena", "one task only", auto_expand=False
    )
    assert [w.title for w in plain.work_items] == ["one task only"]


async def test_async_initializer(aalma, project) -> None:
    from langgraph_alma.session.initializer import AsyncSessionInitializer

    result = await AsyncSessionInitializer(aalma).initialize(
        project, "helena", "fix the flaky test; then add a regression test"
    )
    assert [w.title for w in result.work_items] == ["fix the flaky test", "add a regression test"]
    assert result.recommended.title == "fix the flaky test"
    assert "Learn only about: testing, forms" in result.rules
