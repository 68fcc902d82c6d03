"""With no extra installed (their modules hidden from import), `import langgraph_alma` and
every module outside the extras' import, and each extra's feature says which extra it needs
(`pip install "langgraph-alma[X]"`) when used: the checks the wheel smoke runs in a clean
venv, here in the dev environment for every test run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.packaging import SMOKE, smoke_wheel

ROOT = Path(__file__).resolve().parents[2]
HIDE = Path(__file__).resolve().parent / "without_extras"


def _without_extras(code: str) -> subprocess.CompletedProcess[str]:
    hidden = sorted({m for modules in smoke_wheel.EXTRA_IMPORTS.values() for m in modules})
    env = dict(os.environ)
    env["ALMA_HIDE_MODULES"] = ",".join(hidden)
    env["PYTHONPATH"] = os.pathsep.join([str(HIDE), str(ROOT), str(SMOKE.parent)])
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env
    )


def test_hiding_works() -> None:
    done = _without_extras("import mcp")
    assert done.returncode == 1 and "No module named 'mcp'" in done.stderr


def test_package_imports_and_extras_say_what_they_need() -> None:
    done = _without_extras(
        "import smoke_wheel as s; s.imports_without_extras(); s.missing_extras_say_so()"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"ok: \d+ modules import with no extra, \d+ need one", out)
    assert (
        "import langgraph_alma.mcp: the MCP server (alma mcp) needs the mcp extra: "
        'pip install "langgraph-alma[mcp]"' in out
    )
    assert 'OpenAIExtractor needs the openai extra: pip install "langgraph-alma[openai]"' in out
    assert "ok: alma mcp without the extra: error: alma mcp needs the mcp extra" in out
