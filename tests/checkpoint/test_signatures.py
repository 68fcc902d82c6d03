"""AlmaSaver is a drop-in for PostgresSaver (issue 20): every public method of LangGraph's
`PostgresSaver` / `AsyncPostgresSaver` exists on ours and accepts every parameter theirs
does, positional ones at the same position, so a call written for theirs works on ours.
Also: what a `pipe` / `pipeline=True` caller gets, and `for_tenant` / `limit` checks."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool
from typing_extensions import TypedDict

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import AlmaError, ConfigError, InvalidLimit

PAIRS = [(PostgresSaver, AlmaSaver), (AsyncPostgresSaver, AsyncAlmaSaver)]
_P = inspect.Parameter


def _public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, _ in inspect.getmembers(cls, callable)
        if not name.startswith("_") or name == "__init__"
        if not inspect.isclass(getattr(cls, name))
    )


def _rejected(theirs: inspect.Signature, ours: inspect.Signature) -> list[str]:
    """Each way a call valid for `theirs` is refused by `ours`."""
    problems: list[str] = []
    ours_params = list(ours.parameters.values())
    has_var_kw = any(p.kind is _P.VAR_KEYWORD for p in ours_params)
    has_var_pos = any(p.kind is _P.VAR_POSITIONAL for p in ours_params)
    positional = [
        p for p in ours_params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
    ]
    for i, param in enumerate(theirs.parameters.values()):
        if param.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD):
            continue
        if param.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
            if i >= len(positional) and not has_var_pos:
                problems.append(f"{param.name}: not accepted at position {i}")
            elif i < len(positional) and positional[i].name != param.name:
                problems.append(f"{param.name}: position {i} is {positional[i].name!r} in ours")
        if param.kind is not _P.POSITIONAL_ONLY:
            mine = ours.parameters.get(param.name)
            if (mine is None or mine.kind is _P.POSITIONAL_ONLY) and not has_var_kw:
                problems.append(f"{param.name}: not accepted by keyword")
            elif mine is not None and param.default is not _P.empty and mine.default is _P.empty:
                problems.append(f"{param.name}: optional in theirs, required in ours")
    for mine in ours_params:
        if (
            mine.default is _P.empty
            and mine.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)
            and mine.name not in theirs.parameters
        ):
            problems.append(f"{mine.name}: required by ours only")
    return problems


@pytest.mark.parametrize(("theirs", "ours"), PAIRS, ids=["sync", "async"])
def test_every_postgres_saver_signature_is_accepted(theirs: type, ours: type) -> None:
    problems = {}
    for name in _public_methods(theirs):
        assert hasattr(ours, name), f"{ours.__name__} has no {name}"
        found = _rejected(
            inspect.signature(getattr(theirs, name)), inspect.signature(getattr(ours, name))
        )
        if found:
            problems[name] = found
    assert not problems, problems


def test_the_checker_catches_a_missing_parameter() -> None:
    def theirs(self, conn, pipe=None, serde=None, *, pipeline: bool = False) -> None: ...
    def ours(self, conn, serde=None, **_: Any) -> None: ...
    def strict(self, conn, pipe=None, serde=None) -> None: ...

    assert _rejected(inspect.signature(theirs), inspect.signature(ours)) == [
        "pipe: position 2 is 'serde' in ours",
        "serde: not accepted at position 3",
    ]
    assert _rejected(inspect.signature(theirs), inspect.signature(strict)) == [
        "pipeline: not accepted by keyword"
    ]


class _S(TypedDict):
    n: int


def _graph(saver: Any) -> Any:
    builder = StateGraph(_S)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    return builder.compile(checkpointer=saver)


def test_serde_positional_and_pipeline_like_postgres_saver(database, tenant) -> None:
    serde = JsonPlusSerializer()
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn, None, serde)
        assert saver.serde is serde
        with conn.pipeline() as pipe:
            piped = AlmaSaver(conn, pipe, serde)
            cfg = {"configurable": {"thread_id": f"p-{uuid.uuid4().hex[:6]}", "tenant_id": tenant}}
            assert _graph(piped).invoke({"n": 1}, cfg) == {"n": 2}
            assert _graph(piped).get_state(cfg).values == {"n": 2}
    with (
        ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as pool,
        pytest.raises(ConfigError, match="pipeline"),
    ):
        AlmaSaver(pool, object())
    with AlmaSaver.from_conn_string(database.url, pipeline=True) as saver:
        cfg = {"configurable": {"thread_id": f"q-{uuid.uuid4().hex[:6]}", "tenant_id": tenant}}
        assert _graph(saver).invoke({"n": 5}, cfg) == {"n": 6}


async def test_async_serde_positional_and_pipeline(database, tenant) -> None:
    serde = JsonPlusSerializer()
    async with AsyncAlmaSaver.from_conn_string(database.url, pipeline=True, serde=serde) as s:
        assert s.serde is serde
        cfg = {"configurable": {"thread_id": f"a-{uuid.uuid4().hex[:6]}", "tenant_id": tenant}}
        assert await _graph(s).ainvoke({"n": 1}, cfg) == {"n": 2}
    conn = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    async with conn, conn.pipeline() as pipe:
        saver = AsyncAlmaSaver(conn, pipe, serde)
        assert saver.serde is serde
        assert await _graph(saver).ainvoke({"n": 3}, cfg) == {"n": 4}


@pytest.mark.parametrize("bad", [5, "", None, 1.5])
def test_for_tenant_refuses_what_is_not_a_tenant(database, bad) -> None:
    with (
        AlmaSaver.from_conn_string(database.url) as saver,
        pytest.raises(ConfigError, match="tenant_id must be a non-empty string"),
    ):
        saver.for_tenant(bad)


@pytest.mark.parametrize("bad", [-1, "5", 1.5, True, 2**63])
def test_bad_limits_are_refused_before_any_io(database, bad) -> None:
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        conn.close()  # any I/O would now fail with SaverClosed instead
        cfg = {"configurable": {"thread_id": "x"}}
        with pytest.raises(InvalidLimit, match="limit must be a non-negative integer") as err:
            list(saver.list(cfg, limit=bad))
        assert isinstance(err.value, AlmaError) and err.value.limit is bad
        with pytest.raises(InvalidLimit):
            saver.list_threads(limit=bad)


async def test_bad_limits_on_the_async_saver(database) -> None:
    async with AsyncAlmaSaver.from_conn_string(database.url) as saver:
        with pytest.raises(InvalidLimit):
            [t async for t in saver.alist(None, limit=-1)]
        with pytest.raises(InvalidLimit):
            await saver.alist_threads(limit=2**63)
