"""The README's demo command runs end to end and narrates what it did."""

from __future__ import annotations

import subprocess
import sys

from langgraph_alma.demo import run


def test_demo_observations(database) -> None:
    lines: list[str] = []
    seen = run(database.admin_url, out=lines.append)
    assert seen["turns"] == 3 and seen["resumed_messages"] == 6
    assert seen["fork_turns"] == 2
    assert seen["other_tenant_sees"] == {}
    assert seen["delta_rows"] >= 5 and seen["whole_rows"] == 1
    assert {row[0] for row in seen["scope"]} == {"acme"}
    assert ("acme", "helena", "demo-chat") in seen["scope"]
    assert any("deltas" in line for line in lines)


def test_demo_command(database) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "resumed with 6 messages" in done.stdout
