"""Every sync twin is generated from its async source (`scripts/unasync.py`): each generated
file must be current, the generation must turn async code into its sync twin, and no public
method may exist on one twin of a sync/async pair only."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import langgraph_alma
from langgraph_alma.errors import MissingExtra

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "unasync.py"


def _unasync():
    spec = importlib.util.spec_from_file_location("unasync", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The generator formats the shells with ruff, a dev dependency (the oldest-dependencies run
# has none: what it would check is the tree, not the dependencies).
needs_ruff = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="scripts/unasync.py formats with ruff"
)


@needs_ruff
def test_generated_sync_facade_is_current() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@needs_ruff
@pytest.mark.parametrize(
    "path", [_unasync().TARGET, *_unasync().SHELLS], ids=lambda p: str(p.relative_to(ROOT))
)
def test_each_generated_file_is_current(path: Path) -> None:
    wanted = _unasync().wanted(path)
    assert path.read_text() == wanted, f"{path} is stale: run python scripts/unasync.py"


def test_every_shell_is_generated() -> None:
    """A module defining both `X` and `AsyncX` by hand is a hand-mirrored pair: generate it
    (add it to `SHELLS`)."""
    unasync = _unasync()
    generated = {unasync.TARGET, unasync.SOURCE, *unasync.SHELLS}
    by_hand = {p.relative_to(ROOT).as_posix() for p in _paired_modules() - generated}
    assert by_hand == HAND_MIRRORED


def test_shell_rules_make_sync_classes() -> None:
    source = "class AsyncT:\n    async def _arun(self) -> AsyncIterator[int]:\n"
    source += "        async with aborrow(self.conn) as c:\n"
    source += "            return await asyncio.to_thread(orient, c.path)\n"
    source += "        plan = await asyncio.to_thread(\n            pool_plan, c, size=2\n"
    source += "        )\n"
    out = _unasync().unasync_code(source)
    assert "class T:" in out and "def _run(self) -> Iterator[int]:" in out
    assert "plan = pool_plan(c, size=2\n        )" in out  # a call ruff spread over lines
    assert "with borrow(self.conn) as c:" in out and "return orient(c.path)" in out


def test_saver_rules_make_the_sync_saver() -> None:
    source = "class AsyncAlmaSaver(_OnEventLoop):\n    async def aput(self, c) -> None:\n"
    source += "        await self._outbox.arun(self._connection, c)\n"
    source += "        await asyncio.sleep(await asyncio.to_thread(get_settings))\n"
    source += "        return await saver.arun(await self._aread(c), transaction=True)\n"
    out = _unasync().unasync_code(source)
    assert "class AlmaSaver(_OnThreads):" in out and "    def put(self, c) -> None:" in out
    assert "self._outbox.run(self._connection, c)" in out
    assert "time.sleep(get_settings())" in out
    assert "return saver.run(self._read(c), transaction=True)" in out


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


HAND_MIRRORED: set[str] = set()

# Known drift between hand-mirrored twins, as {(sync, async): {name only on one}}.
KNOWN_DRIFT: dict[tuple[str, str], set[str]] = {}


def _modules() -> list:
    """Every module of the package; one needing an extra that is not installed (the MCP
    SDK, say) is left out, any other import error fails."""
    out = []
    for info in pkgutil.walk_packages(langgraph_alma.__path__, "langgraph_alma.", onerror=print):
        if info.name.endswith("__main__"):
            continue
        try:
            out.append(importlib.import_module(info.name))
        except MissingExtra:
            pass
        except ModuleNotFoundError as exc:
            if (exc.name or "langgraph_alma").startswith("langgraph_alma"):
                raise
    return out


def _pairs() -> list[tuple[type, type]]:
    """Every (X, AsyncX) pair of classes of the package."""
    classes = {
        c.__name__: c
        for m in _modules()
        for c in vars(m).values()
        if inspect.isclass(c) and c.__module__.startswith("langgraph_alma.")
    }
    return [
        (classes[n[5:]], c)
        for n, c in sorted(classes.items())
        if n[5:] in classes and n.startswith("Async")
    ]


def _paired_modules() -> set[Path]:
    return {Path(inspect.getfile(cls)) for pair in _pairs() for cls in pair}


def _public(cls: type) -> set[str]:
    """Public names the package defines on `cls` (its own and its package bases')."""
    return {
        n
        for k in cls.__mro__
        if k.__module__.startswith("langgraph_alma.")
        for n in vars(k)
        if not n.startswith("_")
    }


def _one_sided(sync: type, asynchronous: type) -> set[str]:
    """Public names on one twin with no counterpart on the other (`aname` pairs `name`)."""
    s, a = _public(sync), _public(asynchronous)
    only_async = {n for n in a if n not in s and not (n.startswith("a") and n[1:] in s)}
    only_sync = {n for n in s if n not in a and "a" + n not in a}
    return only_async | only_sync


def test_pairs_are_found() -> None:
    names = {(s.__name__, a.__name__) for s, a in _pairs()}
    assert {("Alma", "AsyncAlma"), ("ProgressTracker", "AsyncProgressTracker")} <= names
    assert ("GraphMemory", "AsyncGraphMemory") in names and len(names) >= 8


@pytest.mark.parametrize("pair", _pairs(), ids=lambda p: p[0].__name__)
def test_no_public_method_on_one_twin_only(pair: tuple[type, type]) -> None:
    sync, asynchronous = pair
    drift = _one_sided(sync, asynchronous)
    known = KNOWN_DRIFT.get((sync.__name__, asynchronous.__name__), set())
    assert drift == known, (
        f"{sync.__name__}/{asynchronous.__name__}: on one twin only {sorted(drift - known)}"
        f"; fixed, remove from KNOWN_DRIFT: {sorted(known - drift)}"
    )


def test_one_sided_names_are_caught() -> None:
    class Sync:
        __module__ = "langgraph_alma.x"

        def get(self) -> None: ...
        def list_threads(self) -> None: ...

    class AsyncSync:
        __module__ = "langgraph_alma.x"

        async def aget(self) -> None: ...
        async def alist_tenants(self) -> None: ...

    assert _one_sided(Sync, AsyncSync) == {"list_threads", "alist_tenants"}


def test_store_rules_make_the_sync_store() -> None:
    source = "class AsyncAlmaStore(_OnEventLoop):\n    async def arun(self, plan):\n"
    source += "        async with _aone_at_a_time(c, lock) as conn:\n"
    source += "            await amigrate(conn); await asyncio.sleep(1)\n"
    source += "        v = await self._aembed(p); await self.aexecute_on(conn, p)\n"
    source += "        return await self._aexecute(await store.aget(ns, 'k'))\n"
    out = _unasync().unasync_code(source)
    assert "class AlmaStore(_OnThreads):" in out and "    def run(self, plan):" in out
    assert "with _one_at_a_time(c, lock) as conn:" in out
    assert "migrate(conn); time.sleep(1)" in out and "amigrate" not in out
    assert "v = self._embed(p); self.execute_on(conn, p)" in out
    assert "return self._execute(store.get(ns, 'k'))" in out
