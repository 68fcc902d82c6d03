"""The simulation benchmark, small: forward-looking beats the baseline after a shift."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SIM = Path(__file__).resolve().parents[2] / "bench" / "confidence_sim.py"


def _sim():
    spec = importlib.util.spec_from_file_location("confidence_sim", SIM)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_forward_engine_beats_backward_baseline_after_a_context_shift() -> None:
    result = _sim().run(steps=300, seeds=[0, 1])
    after = result["summary"]["after_shift"]
    assert after["forward_accuracy"] > 0.7
    assert after["forward_accuracy"] > after["baseline_accuracy"] + 0.05
    assert after["forward_brier"] < after["baseline_brier"]
    overall = result["summary"]["overall"]
    assert overall["forward_brier"] < overall["baseline_brier"]
