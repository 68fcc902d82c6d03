"""The AgTestari integration example runs end to end as a subprocess and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.workflow.conftest import ROOT


def test_agtestari_example_runs(database) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # database: ALMA_DATABASE_URL is set
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agtestari_integration.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    print(done.stdout)  # shown with pytest -s
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "stalling after branches" in out and "worker killed (exit -9)" in out
    assert "resume point: node plan" in out
    assert out.count("already committed, skipped") == 3  # the branches ran once
    assert "join: merged 3 branches, 46 passed / 2 failed" in out
    assert "retrievable: True" in out
