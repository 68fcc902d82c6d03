"""What a data directory says about its server, read without connecting: `postmaster.pid`,
whether the process it names is really this directory's postgres (not one that took its
pid after a crash), and the removal of the lock files a dead server left."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class PidFile:
    """What `postmaster.pid` says (pid, start time, socket directory, status)."""

    pid: int
    started: int
    socket_dir: str
    status: str

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        try:
            lines = (path / "postmaster.pid").read_text().splitlines()
            return cls(
                pid=int(lines[0]),
                started=int(lines[2]),
                socket_dir=lines[4].strip() if len(lines) > 4 else "",
                status=lines[7].strip() if len(lines) > 7 else "",
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, IndexError):  # half-written by a dying server
            return cls(pid=0, started=0, socket_dir="", status="")


def is_postmaster(info: PidFile, path: Path) -> bool:
    """Is `info.pid` this data directory's postgres, not a process that took its pid?"""
    if info.pid <= 0:
        return False
    try:
        proc = psutil.Process(info.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        try:
            return "postgres" in proc.name() and str(path) in proc.cmdline()
        except psutil.AccessDenied:  # another user's process: compare start times
            return abs(proc.create_time() - info.started) < 2
    except psutil.NoSuchProcess:
        return False


def remove_stale_lock_files(path: Path, info: PidFile) -> None:
    # The server died and its pid may now be another process's (or a zombie's): postgres
    # would refuse to start over lock files naming a live pid. No postmaster of `path`
    # runs and we hold its lock, so they are ours to remove; the socket directory is
    # `path` or one named after it.
    stale = [path / "postmaster.pid"]
    if info.socket_dir:
        stale += Path(info.socket_dir).glob(".s.PGSQL.*.lock")
    for file in stale:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
