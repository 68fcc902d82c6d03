"""The sync facade is generated from the async one (`scripts/unasync.py`): it must be
current, and the generation must turn async code into its sync twin."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "unasync.py"


def _unasync():
    spec = importlib.util.spec_from_file_location("unasync", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sync_facade_is_current() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_rules_turn_async_code_into_sync_code() -> None:
    source = '"""doc"""\nasync def f(s: AsyncAlmaStore) -> AsyncAlma:\n'
    source += "    async with x:\n"
    source += "        return await arun_store_plan(s, await s.alist_tenants())\n"
    out = _unasync().unasync(source)
    assert "def f(s: AlmaStore) -> Alma:" in out and "async" not in out.split('"""')[-1]
    assert "return run_store_plan(s, s.list_tenants())" in out and "    with x:" in out


def test_the_two_facades_offer_the_same_methods() -> None:
    from langgraph_alma.alma import Alma, AsyncAlma

    def public(cls: type) -> set[str]:
        return {n for n in vars(cls) if not n.startswith("_")}

    assert public(AsyncAlma) - {"aclose"} == public(Alma) - {"close"}
