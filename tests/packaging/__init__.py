"""How the package installs: declared dependencies, extras, and the wheel smoke script
(`scripts/smoke_wheel.py`, loaded here as `smoke_wheel` since scripts/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke_wheel.py"


def _load_smoke():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("smoke_wheel", SMOKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smoke_wheel = _load_smoke()
