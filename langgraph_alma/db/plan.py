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
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus
from psycopg.rows import tuple_row

from langgraph_alma.db.placeholders import acursor_for, cursor_for, statement_for

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
        query, params, raw = statement_for(conn, batch[0].query, batch[0].params)
        with cursor_for(conn, raw) as cur:
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
            query, params, raw = statement_for(conn, sql.query, sql.params)
            cursors.append(cur := cursor_for(conn, raw))
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
        query, params, raw = statement_for(conn, batch[0].query, batch[0].params)
        async with acursor_for(conn, raw) as cur:
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
            query, params, raw = statement_for(conn, sql.query, sql.params)
            cursors.append(cur := acursor_for(conn, raw))
            await cur.execute(query, params)
    try:
        return [await _afetch(cur, sql) for cur, sql in zip(cursors, batch, strict=True)]
    finally:
        for cur in cursors:
            await cur.close()


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
