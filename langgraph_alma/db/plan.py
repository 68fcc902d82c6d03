"""Statement plans: one implementation of each database operation for sync and async.

Logic that talks to PostgreSQL is written once, as a generator (a *plan*) that yields
batches of `Sql` and receives their results; `run_plan` and `arun_plan` are the only
code that differs between sync and async. A batch is sent in one pipeline, so it costs
one network round trip and runs in one implicit transaction (an error rolls back the
whole batch). A plan of several batches that must be atomic runs with `transaction=True`.
Rows always reach a plan as tuples, whatever row factory the caller's connection or pool
was opened with (LangGraph's documentation opens them with `row_factory=dict_row`).

>>> def count(tenant):
...     rows = yield [set_tenant(tenant), Sql("SELECT count(*) FROM alma_checkpoints", fetch=True)]
...     return rows[1][0][0]
>>> run_plan(conn, count("acme"))                    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ExecStatus, Format
from psycopg.rows import tuple_row

T = TypeVar("T")
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement; `fetch=True` sends its rows back to the plan."""

    query: Any
    params: Sequence[Any] | Mapping[str, Any] | None = None
    fetch: bool = False
    script: bool = False  # several statements, no parameters (sent outside the pipeline)


Batch = Sequence[Sql]
Plan = Generator[Batch, list[Rows | None], T]


# Sets the tenant row-level security acts for, until the end of the transaction (a
# pipeline batch, or a single statement, is one implicit transaction); returns it.
SET_TENANT = "set_config('alma.tenant_id', %(tenant)s, true)"


def set_tenant(tenant_id: str) -> Sql:
    """The statement that makes row-level security act for `tenant_id` until the
    end of the current transaction (a pipeline batch is one implicit transaction)."""
    return Sql("SELECT " + SET_TENANT, {"tenant": tenant_id})


def spliced(
    plan: Plan[T],
    extra: Callable[[Batch], tuple[int, Sequence[Sql]]],
    seen: Callable[[list[Rows | None]], None] | None = None,
) -> Plan[T]:
    """`plan` with statements added to each of its batches, in the same round trip:
    `extra(batch)` says where (an index into the batch) and which; their results go to
    `seen`, the plan gets its own. Errors the driver throws in reach the plan, which may
    answer with another batch.

    >>> spliced(plan, lambda batch: (0, [set_tenant("acme")]))          # doctest: +SKIP
    """
    try:
        batch = next(plan)
    except StopIteration as done:
        return done.value
    while True:
        at, added = extra(batch)
        n = len(added)
        try:
            results = yield [*batch[:at], *added, *batch[at:]]
        except Exception as exc:
            try:
                batch = plan.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        if seen is not None:
            seen(results[at : at + n])
        try:
            batch = plan.send([*results[:at], *results[at + n :]])
        except StopIteration as done:
            return done.value


def run_plan(conn: psycopg.Connection[Any], plan: Plan[T], *, transaction: bool = False) -> T:
    """Drive `plan` on a sync connection."""
    if transaction:
        with conn.transaction():
            return _drive(conn, plan)
    return _drive(conn, plan)


def _drive(conn: psycopg.Connection[Any], plan: Plan[T]) -> T:
    try:
        batch = next(plan)
        while True:
            try:
                results = _send(conn, batch)
            except psycopg.Error as exc:
                batch = plan.throw(exc)  # the plan may answer with another batch
                continue
            batch = plan.send(results)
    except StopIteration as done:
        return done.value
    finally:
        plan.close()


def _send(conn: psycopg.Connection[Any], batch: Batch) -> list[Rows | None]:
    if len(batch) == 1 and not batch[0].script:  # one statement: no pipeline needed
        query, params, raw = _raw(conn, batch[0])
        with _cursor(conn, raw) as cur:
            return [_fetch(cur.execute(query, params), batch[0])]
    if any(sql.script for sql in batch):
        # Scripts hold several statements: never prepared (psycopg would refuse).
        with conn.cursor(row_factory=tuple_row) as cur:
            return [
                _fetch(
                    cur.execute(sql.query, sql.params, prepare=False if sql.script else None), sql
                )
                for sql in batch
            ]
    with conn.pipeline():
        cursors = []
        for sql in batch:
            query, params, raw = _raw(conn, sql)
            cursors.append(cur := _cursor(conn, raw))
            cur.execute(query, params)
    try:
        return [
            cur.fetchall() if sql.fetch else None for cur, sql in zip(cursors, batch, strict=True)
        ]
    finally:
        for cur in cursors:
            cur.close()


async def arun_plan(
    conn: psycopg.AsyncConnection[Any], plan: Plan[T], *, transaction: bool = False
) -> T:
    """Drive `plan` on an async connection."""
    if transaction:
        async with conn.transaction():
            return await _adrive(conn, plan)
    return await _adrive(conn, plan)


async def _adrive(conn: psycopg.AsyncConnection[Any], plan: Plan[T]) -> T:
    try:
        batch = next(plan)
        while True:
            try:
                results = await _asend(conn, batch)
            except psycopg.Error as exc:
                batch = plan.throw(exc)
                continue
            if sum(len(rows) for rows in results if rows) > OFF_LOOP_ROWS:
                # Turning many rows into objects (a page of items) is CPU work.
                finished, value = await off_loop(_step, plan, results)
                if finished:
                    return value
                batch = value
            else:
                batch = plan.send(results)
    except StopIteration as done:
        return done.value
    finally:
        plan.close()


async def _asend(conn: psycopg.AsyncConnection[Any], batch: Batch) -> list[Rows | None]:
    if len(batch) == 1 and not batch[0].script:
        query, params, raw = _raw(conn, batch[0])
        async with _acursor(conn, raw) as cur:
            return [await _afetch(await cur.execute(query, params), batch[0])]
    if any(sql.script for sql in batch):
        async with conn.cursor(row_factory=tuple_row) as cur:
            return [
                await _afetch(
                    await cur.execute(sql.query, sql.params, prepare=False if sql.script else None),
                    sql,
                )
                for sql in batch
            ]
    async with conn.pipeline():
        cursors = []
        for sql in batch:
            query, params, raw = _raw(conn, sql)
            cursors.append(cur := _acursor(conn, raw))
            await cur.execute(query, params)
    try:
        return [await _afetch(cur, sql) for cur, sql in zip(cursors, batch, strict=True)]
    finally:
        for cur in cursors:
            await cur.close()


# -- placeholders converted once per statement ----------------------------------------
#
# psycopg turns `%(name)s` placeholders into PostgreSQL's `$n` on every execute, and
# caches the conversion only for statements shorter than 4,096 characters: the store's
# search statement (6-7k) was re-parsed on every search, ~0.1-0.2 ms of the event loop's
# time. A statement with named parameters is converted here once per text (cached) and
# sent through psycopg's raw cursor, which takes `$n` placeholders and a sequence of
# values as they are. The `$n` text, the parameters' formats and so their types are the
# ones psycopg's own conversion gives, so statements are prepared under the same names
# and plans as before.

_PLACEHOLDER = re.compile(r"%(?:(%)|\(([^)]+)\)([sbt])|(.))", re.DOTALL)
_RAW_CACHE = 1024


class BinaryList(list[Any]):
    """A list bound in binary format from a `%(name)b` placeholder on the raw cursor
    (which binds every value in psycopg's automatic format: text for a list of text)."""

    __slots__ = ()


_LIST_BINARY = psycopg.adapters.get_dumper(list, PyFormat.BINARY)


@dataclass(frozen=True, slots=True)
class _Converted:
    query: str  # with $n placeholders
    names: tuple[str, ...]  # the parameter of each $n
    binary: tuple[bool, ...]  # bound in binary (`%(name)b`)


@functools.lru_cache(maxsize=_RAW_CACHE)
def _convert(query: str) -> _Converted | None:
    """`query`'s `%(name)s`/`%(name)b` placeholders as `$n`; None when it has any other
    kind (positional `%s`, `%(name)t`, a stray `%`): psycopg's own path handles those."""
    names: dict[str, int] = {}
    binary: list[bool] = []
    bad = False

    def sub(m: re.Match[str]) -> str:
        nonlocal bad
        if m.group(1):
            return "%"
        name, fmt = m.group(2), m.group(3)
        if name is None or fmt == "t":
            bad = True
            return ""
        if name in names:
            if binary[names[name]] != (fmt == "b"):
                bad = True  # psycopg refuses one name in two formats: let it say so
            return f"${names[name] + 1}"
        names[name] = len(binary)
        binary.append(fmt == "b")
        return f"${len(binary)}"

    converted = _PLACEHOLDER.sub(sub, query)
    if bad or not names:
        return None
    return _Converted(converted, tuple(names), tuple(binary))


def _raw(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], sql: Sql
) -> tuple[Any, Any, bool]:
    """The query and parameters to execute `sql` with, and whether on a raw cursor."""
    params = sql.params
    if not isinstance(sql.query, str) or not isinstance(params, Mapping):
        return sql.query, params, False
    if conn.cursor_factory not in (psycopg.Cursor, psycopg.AsyncCursor):
        return sql.query, params, False  # a client-side cursor, say: the caller's choice
    conv = _convert(sql.query)
    if conv is None:
        return sql.query, params, False
    try:
        values = [params[name] for name in conv.names]
    except KeyError as exc:
        raise psycopg.ProgrammingError(f"query parameter missing: {exc.args[0]}") from None
    if any(conv.binary):
        adapters = conn.adapters
        if adapters.get_dumper(BinaryList, PyFormat.AUTO) is not _LIST_BINARY:
            adapters.register_dumper(BinaryList, _LIST_BINARY)
        for i, binary in enumerate(conv.binary):
            if binary and type(values[i]) is list:
                values[i] = BinaryList(values[i])
            elif binary and values[i] is not None and not isinstance(values[i], BinaryList):
                return sql.query, params, False  # a binary non-list: psycopg's own path
    return conv.query, values, True


def _cursor(conn: psycopg.Connection[Any], raw: bool) -> psycopg.Cursor[Any]:
    if not raw:
        return conn.cursor(binary=True, row_factory=tuple_row)
    cur = psycopg.RawCursor(conn, row_factory=tuple_row)
    cur.format = Format.BINARY
    return cur


def _acursor(conn: psycopg.AsyncConnection[Any], raw: bool) -> psycopg.AsyncCursor[Any]:
    if not raw:
        return conn.cursor(binary=True, row_factory=tuple_row)
    cur = psycopg.AsyncRawCursor(conn, row_factory=tuple_row)
    cur.format = Format.BINARY
    return cur


def _fetch(cur: psycopg.Cursor[Any], sql: Sql) -> Rows | None:
    return cur.fetchall() if sql.fetch else None


async def _afetch(cur: psycopg.AsyncCursor[Any], sql: Sql) -> Rows | None:
    if not sql.fetch:
        return None
    if _large(cur.pgresult):
        return await off_loop(_load_rows, cur)
    return await cur.fetchall()


# -- keeping the event loop free ------------------------------------------------------

OFF_LOOP_ROWS = 100
"""An async plan decodes a result of more rows than this (or of more than
`OFF_LOOP_BYTES`), and takes its next step after a batch that returned more, in a worker
thread: decoding thousands of JSON values, or building an item of each row, would hold
the event loop, and every other task on it, for as long."""
OFF_LOOP_BYTES = 256 * 1024


def _large(res: Any) -> bool:
    """`res` (a result not yet decoded) holds more than a few milliseconds of decoding."""
    if res is None or res.status != ExecStatus.TUPLES_OK:
        return False  # nothing to decode, or an error fetchall raises as usual
    rows, cols = res.ntuples, res.nfields
    if rows > OFF_LOOP_ROWS:
        return True
    size = 0
    for r in range(rows):  # at most OFF_LOOP_ROWS rows: a copy is cheap next to a decode
        for c in range(cols):
            size += len(res.get_value(r, c) or b"")
    return size > OFF_LOOP_BYTES


def _load_rows(cur: psycopg.AsyncCursor[Any]) -> Rows:
    """What `cur.fetchall()` returns, decoded by a transformer of the cursor's adapters
    (fit for a worker thread: it touches no connection)."""
    res = cur.pgresult
    assert res is not None
    tx = Transformer.from_context(cur)
    tx.set_pgresult(res)
    return tx.load_rows(0, res.ntuples, tuple)


def _step(plan: Plan[T], results: list[Rows | None]) -> tuple[bool, Any]:
    # StopIteration may not cross a thread's future: returned, not raised.
    try:
        return False, plan.send(results)
    except StopIteration as done:
        return True, done.value


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a worker thread (in this task's context), as `asyncio.to_thread`;
    a cancelled caller still waits for the thread to finish, so nothing it was handed
    (a plan, a cursor) is used by two threads at once."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    future = loop.run_in_executor(None, lambda: ctx.run(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        raise
