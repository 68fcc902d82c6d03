"""Checkpoint writes that arrive together go to PostgreSQL together.

LangGraph saves a superstep's pending writes (`put_writes`) and the next checkpoint
(`put`) from background threads or tasks at nearly the same moment; on one connection,
each waits for the one before it. An `Outbox` lets whichever write gets the connection
first (the leader) send every write of the same thread queued meanwhile in one pipeline
batch: one round trip and one commit instead of one each. Nobody returns before their
own write is committed, so what a caller was promised is unchanged; writes that ride
with a checkpoint commit synchronously with it (never the reverse: a batch commits
synchronously when any of its writes asks for it).

A batch is one transaction: if any statement fails, the leader runs each write of it
again alone, so one write's bad value never fails another's.

A write may also *hold* (`Hold`): a LangGraph run's task writes wait, up to
`Hold.seconds` and without a connection, for the next write of their thread, nearly
always the checkpoint LangGraph puts after the superstep, and ride in its batch: a
superstep costs one round trip and one transaction, not two, on a pool too. LangGraph
does not wait for such writes before that put (except for DeltaChannel writes and error
handlers, which the saver stops holding), whatever the run's durability: with "sync" it
waits for the put, whose batch then commits synchronously, writes included. So a hold
costs no latency; when no write came in time, `Hold.missed` is told (the saver holds
that run's writes no more) and the write goes alone. An async caller awaits its held
write (a future costs nothing); a sync caller returns at once, since a thread blocked
in a hold makes LangGraph start another for its next put: a flusher thread sends what
no leader took in time, and an error of such a write is raised by the next write of its
thread (the run's next put), so the run still fails. A write of a checkpoint whose
next one was put already (LangGraph's executor may run a task's `put_writes` after the
step's put) is not held: no put would carry it, and a run that returned must find every
write it made stored, as a new process reads them.

>>> outbox.run(saver._connection, (tenant, thread), make_plan, True)            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg

from langgraph_alma.checkpoint import _sql
from langgraph_alma.db.plan import Plan, Sql, arun_plan, run_plan
from langgraph_alma.errors import CheckpointWriteInterrupted

T = TypeVar("T")
# How long the flusher thread (`_Queue._flush`) lingers with nothing to send.
FLUSHER_IDLE = 5.0
# make(synchronous): the write's plan; `synchronous` is True when the batch it rides in
# commits synchronously (its own durability may then be raised, never lowered).
MakePlan = Callable[[bool], Plan[Any]]


@dataclass(frozen=True, slots=True)
class Hold:
    """How long a write waits for the next write of its thread to lead it (see the
    module), whom to tell when none came, the checkpoint it is a write of (a write of a
    checkpoint whose next one was put already is not held: no put will carry it), and
    whether its run has ended meanwhile (it wrote an error or an interrupt: no put may
    follow), asked once the write is queued (`_Queue._enqueue`)."""

    seconds: float
    missed: Callable[[], None]
    of: tuple[Hashable, str]  # (checkpoint namespace, checkpoint id)
    ended: Callable[[], bool] = lambda: False


class Entry(Generic[T]):
    """One queued write: its plan's factory and, once run, its outcome."""

    __slots__ = (
        "key", "make", "synchronous", "taken", "finished", "value", "error", "waiter", "wake",
        "report",
    )  # fmt: skip

    def __init__(self, key: Hashable, make: MakePlan, synchronous: bool) -> None:
        self.key = key  # (tenant, thread): what may share a batch
        self.make = make
        self.synchronous = synchronous
        self.taken = False
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None
        # How a caller waiting for another leader learns it finished: an async one's
        # future, a sync one's lock, released by `finish` (each made only when needed:
        # most writes lead their own batch). One per entry, so that a finished batch
        # wakes its own callers only, not every thread waiting on the saver.
        self.waiter: asyncio.Future[None] | None = None
        self.wake: threading.Lock | None = None
        # Set when its caller did not wait (`_Queue._held_on_thread`): whom to tell an error.
        self.report: Callable[[Entry[Any]], None] | None = None

    def finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.finished = value, error, True
        if error is not None and self.report is not None:
            self.report(self)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        wake = self.wake  # read after `finished` is set: see `_Queue._sleep_on_thread`
        if wake is not None and wake.locked():
            wake.release()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def together(entries: Sequence[Entry[Any]]) -> Plan[None]:
    """One plan for `entries`: their first batches in one, each write's outcome recorded
    in its entry (a later batch of a write, e.g. a retry, runs after, alone)."""
    synchronous = any(e.synchronous for e in entries)
    started: list[tuple[Entry[Any], Plan[Any], Sequence[Any]]] = []
    for entry in entries:
        try:
            plan = entry.make(synchronous)
            started.append((entry, plan, next(plan)))
        except StopIteration as done:
            entry.finish(done.value)
        except Exception as exc:  # refused before any I/O (a bad value, a limit)
            entry.finish(error=exc)
    if len(started) == 1:
        entry, plan, batch = started[0]
        yield from _finish(entry, plan, batch)
        return
    if not started:
        return
    try:
        results = yield _one_statement(started) or [sql for _, _, batch in started for sql in batch]
    except psycopg.Error:
        # The batch rolled back whole: each write again, alone, from the start.
        for _, plan, _ in started:
            plan.close()
        for entry, _, _ in started:
            try:
                plan = entry.make(synchronous)
                batch = next(plan)
            except StopIteration as done:
                entry.finish(done.value)
                continue
            except Exception as exc:
                entry.finish(error=exc)
                continue
            yield from _finish(entry, plan, batch)
        return
    if len(results) < sum(len(batch) for _, _, batch in started):  # one merged statement
        results = [None] * len(started)
    at = 0
    for entry, plan, batch in started:
        part, at = results[at : at + len(batch)], at + len(batch)
        try:
            following = plan.send(part)
        except StopIteration as done:
            entry.finish(done.value)
            continue
        except Exception as exc:
            entry.finish(error=exc)
            continue
        yield from _finish(entry, plan, following)


def _one_statement(started: Sequence[tuple[Any, Any, Sequence[Sql]]]) -> list[Sql] | None:
    """The writes' first batches as one statement (`_sql.merged`), when each is one
    statement that may merge; their results then come back as each one's (none)."""
    statements: list[tuple[str, Mapping[str, Any]]] = []
    for _, _, batch in started:
        sql = batch[0]
        if len(batch) != 1 or sql.fetch or not isinstance(sql.params, Mapping):
            return None
        statements.append((sql.query, sql.params))
    try:
        return [Sql(*_sql.merged(statements))]
    except ValueError:  # not all hot writes of one tenant and commit mode
        return None


def _finish(entry: Entry[Any], plan: Plan[Any], batch: Sequence[Any]) -> Plan[None]:
    """Drive one write's plan from `batch` on, as `db.plan` would, into its entry."""
    try:
        while True:
            try:
                results = yield batch
            except psycopg.Error as exc:
                batch = plan.throw(exc)  # the plan may answer with another batch
                continue
            batch = plan.send(results)
    except StopIteration as done:
        entry.finish(done.value)
    except Exception as exc:
        entry.finish(error=exc)
    finally:
        plan.close()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _cut(exc: BaseException) -> CheckpointWriteInterrupted:
    """What a write learns when the caller that led its batch was interrupted: never the
    interruption itself (a task must not see another's cancellation as its own)."""
    err = CheckpointWriteInterrupted(f"a write it was sent with was interrupted: {exc!r}")
    err.__cause__ = exc
    return err


# How many threads' last puts an outbox remembers (`_Queue._latest`); a write
# of a thread it forgot may be held in vain (the flusher sends it), never lost.
LATEST_KEPT = 4096

# The outboxes that ever held a write for the flusher, for `_send_all_due`.
_WITH_DUE: weakref.WeakSet[_Queue] = weakref.WeakSet()


@atexit.register
def _send_all_due() -> None:
    """At the interpreter's exit, send the held writes the flusher has not sent yet (its
    daemon thread would be stopped with them); a closed connection leaves them unsent."""
    for queue in list(_WITH_DUE):
        with contextlib.suppress(Exception):
            queue.send_due()


class _Queue:
    """What the async and the sync outbox share: the queue, who leads which batch, and
    what a failure does to the writes it led (see the module doc)."""

    # The flavour's way to send the batch an entry leads (`AsyncOutbox._lead`, `Outbox._lead`).
    _lead: Callable[..., Any]

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._queue: list[Entry[Any]] = []
        # Held writes whose callers did not wait (`_held_on_thread`): (deadline, entry,
        # hold, connection) in deadline order, for the flusher thread to send when their
        # hold ran out and no leader took them; the first error of such a write of each
        # key, for the next write of that key to raise (`_outcome`).
        self._due: list[tuple[float, Entry[Any], Hold, Any]] = []
        self._due_added = threading.Condition(self._guard)
        self._flusher: threading.Thread | None = None
        self._lost: dict[Hashable, BaseException] = {}
        # The parent of each key's (and checkpoint namespace's) last put, oldest first.
        self._latest: dict[tuple[Hashable, Hashable], str] = {}

    def _enqueue(
        self,
        make: MakePlan,
        key: Hashable,
        synchronous: bool,
        hold: Hold | None,
        follows: tuple[Hashable, str] | None,
    ) -> tuple[Entry[Any], Hold | None]:
        """Queue a write; with its hold, unless it is a write of a checkpoint whose next
        one was put already (LangGraph's executor may run a task's `put_writes` after the
        put that ends its superstep) or its run ended: no put will carry it, and a run
        that returned must find it stored. `follows` is a put's (namespace, parent checkpoint id):
        checkpoint ids grow within a thread (LangGraph's uuid6, as every saver orders
        them), so a write of a checkpoint no later than the last put's parent is late."""
        entry: Entry[Any] = Entry(key, make, synchronous)
        with self._guard:
            if follows is not None:
                ns, parent = follows
                latest = self._latest
                latest.pop((key, ns), None)
                latest[(key, ns)] = parent
                if len(latest) > LATEST_KEPT:
                    del latest[next(iter(latest))]
            self._queue.append(entry)
            if hold is not None:
                # Asked after the append: a run's last write marks it ended before it
                # takes the queue, so a write either sees the mark or rides with it.
                ns, checkpoint = hold.of
                last = self._latest.get((key, ns))
                if (last is not None and checkpoint <= last) or hold.ended():
                    hold = None
        return entry, hold

    def _take(self, entry: Entry[Any], conn: Any) -> list[Entry[Any]]:
        """The batch `entry` leads: nothing if another leader took it; only itself when
        the connection is inside a caller's transaction (whose fate others must not
        share); else every queued write of its thread, in arrival order."""
        with self._guard:
            if entry.taken:
                return []
            alone = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            batch = [entry] if alone else [e for e in self._queue if e.key == entry.key]
            for e in batch:
                e.taken = True
            self._queue = [e for e in self._queue if not e.taken]
            return batch

    def _failed(self, entry: Entry[Any], batch: Sequence[Entry[Any]], exc: BaseException) -> bool:
        """After `exc` in `entry`'s caller: True if the caller must raise it (the writes it
        led fail with it; its own, if no other leader took it, will never run); False
        if another leader took `entry` (an error, not a cancellation: wait for that)."""
        with self._guard:
            for e in batch:
                if not e.finished:
                    e.finish(error=exc if e is entry or isinstance(exc, Exception) else _cut(exc))
            if entry.taken and entry not in batch and isinstance(exc, Exception):
                return False
            entry.taken = True
            self._queue = [e for e in self._queue if e is not entry]
        return True

    # How a caller whose write another leader took waits for its outcome: the two ways
    # differ by nature, so both are written here (`AsyncOutbox` awaits the first, its
    # generated twin calls the second).
    async def _outcome_on_loop(self, entry: Entry[Any]) -> None:
        if not entry.finished:
            if entry.waiter is None or entry.waiter.done():  # done: its hold's timer
                entry.waiter = asyncio.get_running_loop().create_future()
            await entry.waiter

    def _outcome_on_thread(self, entry: Entry[Any]) -> None:
        self._sleep_on_thread(entry, None)

    def _outcome(self, entry: Entry[Any]) -> Any:
        """`entry`'s outcome; else the error of a write of its key whose caller did not
        wait for it (`_held_on_thread`), raised once, by the next write of that thread."""
        value = entry.outcome()
        if self._lost and (lost := self._lost.pop(entry.key, None)) is not None:
            raise lost
        return value

    def _sleep_on_thread(self, entry: Entry[Any], timeout: float | None) -> None:
        """Until `entry` is finished, or `timeout` seconds passed. No wakeup is lost:
        `finish` sets `finished` then reads `wake`, this sets `wake` then reads
        `finished`, so one of the two sees what the other did."""
        if entry.finished:
            return
        with self._guard:  # one lock per entry, however many callers wait for it
            if entry.wake is None:
                wake = threading.Lock()
                wake.acquire()
                entry.wake = wake
        if not entry.finished:
            entry.wake.acquire(timeout=-1 if timeout is None else timeout)

    # How a held write waits for a leader (`Hold`), the two ways: True when its caller
    # returns at once, the write left to a leader or the flusher.
    async def _held_on_loop(self, entry: Entry[Any], hold: Hold, connection: Any) -> bool:
        # A future that `finish` or a timer resolves: a third of `asyncio.wait`'s cost.
        loop = asyncio.get_running_loop()
        waiter = entry.waiter = loop.create_future()
        timer = loop.call_later(hold.seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
        if not entry.taken:
            hold.missed()
        return False

    def _held_on_thread(self, entry: Entry[Any], hold: Hold, connection: Any) -> bool:
        """A thread does not wait out the hold: LangGraph would start another thread for
        its next put (a thread start costs the run more than the write does). The write
        stays queued for the next write of its thread to lead; the flusher thread sends
        it if none took it within `hold.seconds`. An error of it is raised by the next
        write of its thread, the run's next put (`_outcome`), so the run still fails."""
        entry.report = self._lose
        if entry.error is not None:  # failed before `report` was set: see `finish`
            self._lose(entry)
        start = False
        with self._guard:
            self._due.append((time.monotonic() + hold.seconds, entry, hold, connection))
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush, name="alma-saver-flusher", daemon=True
                )
                start = True
            elif len(self._due) == 1:
                self._due_added.notify()
        if start:
            _WITH_DUE.add(self)
            self._flusher.start()
        return True

    def _lose(self, entry: Entry[Any]) -> None:
        # No lock: `finish` may run under `_guard` (`_failed`); setdefault is atomic.
        assert entry.error is not None
        self._lost.setdefault(entry.key, entry.error)

    def _flush(self) -> None:
        """The flusher thread: sends each write of `_due` whose hold ran out with no
        leader, as its caller would have led it; ends after `FLUSHER_IDLE` seconds with
        nothing due (and starts again with the next)."""
        while True:
            with self._guard:
                while True:
                    self._due = [d for d in self._due if not d[1].taken]
                    if self._due and self._due[0][0] <= time.monotonic():
                        _, entry, hold, connection = self._due.pop(0)
                        break
                    wait = self._due[0][0] - time.monotonic() if self._due else FLUSHER_IDLE
                    if not self._due_added.wait(wait) and not self._due:
                        self._flusher = None
                        return
            self._send_held(entry, hold, connection)

    def has_due(self) -> bool:
        """Whether a held write waits for the flusher (`send_due`)."""
        return bool(self._due)

    def send_due(self, key: Hashable | None = None) -> None:
        """Send now, on this thread, every held write (of `key`, else of any) no leader
        took yet, rather than when its hold runs out: at a saver's exit, and the
        interpreter's (`_send_all_due`), which does not wait for the flusher (a daemon
        thread), and before a read of its thread (a run that ended with no put after its
        held writes: a timeout, say, read back at once). Sync outboxes only: an async
        caller awaits its held write, so none is ever due there."""
        if not self._due:
            return
        with self._guard:
            if key is None:
                due, self._due = self._due, []
            else:
                due = [d for d in self._due if d[1].key == key]
                self._due = [d for d in self._due if d[1].key != key]
        for _, entry, hold, connection in due:
            if not entry.taken:
                self._send_held(entry, hold, connection)

    def _send_held(self, entry: Entry[Any], hold: Hold, connection: Any) -> None:
        """Send a held write no leader took, as its caller would have led it."""
        hold.missed()
        batch: list[Entry[Any]] = []
        try:
            self._lead(connection, entry, entry.make, entry.synchronous, batch)
        except BaseException as exc:
            if self._failed(entry, batch, exc) and not entry.finished:
                entry.finish(error=exc)


class AsyncOutbox(_Queue):
    """The queue of a saver's writes waiting for a connection (see the module doc)."""

    async def arun(
        self,
        connection: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
        key: Hashable,
        make: MakePlan,
        synchronous: bool,
        hold: Hold | None = None,
        follows: tuple[Hashable, str] | None = None,
    ) -> Any:
        """Run the write `make(...)` makes, with whatever writes of its `key` wait too
        (`hold`: first wait that long for the next one to lead it; `follows`: a put's
        checkpoint namespace and parent checkpoint id, if any)."""
        entry, hold = self._enqueue(make, key, synchronous, hold, follows)
        batch: list[Entry[Any]] = []
        try:
            if hold is not None and await self._held_on_loop(entry, hold, connection):
                return None  # its caller does not wait: see `_held_on_thread`
            if not entry.taken:
                await self._lead(connection, entry, make, synchronous, batch)
        except BaseException as exc:
            if self._failed(entry, batch, exc):
                raise
        await self._outcome_on_loop(entry)  # when another leader took it: its outcome
        return self._outcome(entry)

    async def _lead(
        self,
        connection: Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]],
        entry: Entry[Any],
        make: MakePlan,
        synchronous: bool,
        batch: list[Entry[Any]],
    ) -> None:
        """On a connection: send the batch `entry` leads, if no other leader took it
        (`batch` gets its writes, for the caller's error handling)."""
        async with connection() as conn:
            batch.extend(self._take(entry, conn))
            if not batch:
                return
            if len(batch) == 1:  # the usual case: its own plan, no merging
                try:
                    value = await arun_plan(conn, make(synchronous))
                except Exception as exc:
                    entry.finish(error=exc)
                else:
                    entry.finish(value)
            else:
                await arun_plan(conn, together(batch))


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class Outbox(_Queue):
    """The queue of a saver's writes waiting for a connection (see the module doc)."""

    def run(
        self,
        connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
        key: Hashable,
        make: MakePlan,
        synchronous: bool,
        hold: Hold | None = None,
        follows: tuple[Hashable, str] | None = None,
    ) -> Any:
        """Run the write `make(...)` makes, with whatever writes of its `key` wait too
        (`hold`: first wait that long for the next one to lead it; `follows`: a put's
        checkpoint namespace and parent checkpoint id, if any)."""
        entry, hold = self._enqueue(make, key, synchronous, hold, follows)
        batch: list[Entry[Any]] = []
        try:
            if hold is not None and self._held_on_thread(entry, hold, connection):
                return None  # its caller does not wait: see `_held_on_thread`
            if not entry.taken:
                self._lead(connection, entry, make, synchronous, batch)
        except BaseException as exc:
            if self._failed(entry, batch, exc):
                raise
        self._outcome_on_thread(entry)  # when another leader took it: its outcome
        return self._outcome(entry)

    def _lead(
        self,
        connection: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
        entry: Entry[Any],
        make: MakePlan,
        synchronous: bool,
        batch: list[Entry[Any]],
    ) -> None:
        """On a connection: send the batch `entry` leads, if no other leader took it
        (`batch` gets its writes, for the caller's error handling)."""
        with connection() as conn:
            batch.extend(self._take(entry, conn))
            if not batch:
                return
            if len(batch) == 1:  # the usual case: its own plan, no merging
                try:
                    value = run_plan(conn, make(synchronous))
                except Exception as exc:
                    entry.finish(error=exc)
                else:
                    entry.finish(value)
            else:
                run_plan(conn, together(batch))
