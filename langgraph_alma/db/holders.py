"""The processes using an embedded server, listed in `<data dir>/.alma_holders.json`: each
named by pid *and* start time, so one killed with SIGKILL (or whose pid was reused) holds
nothing. The list is rewritten atomically; `db.embedded` reads and writes it under the
data directory's lock."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psutil

HOLDERS_FILE = ".alma_holders.json"
"""In the data directory: the processes using its server, `[{"pid", "started"}]`."""


def process_started(pid: int) -> float | None:
    """When process `pid` started (with its pid, a process's identity), or None if no
    such process lives (a zombie does not). Linux: ticks since boot, immune to clock
    changes; elsewhere psutil's creation time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] in "ZX" else float(fields[19])  # state; field 22
    except FileNotFoundError:
        return None
    except (OSError, IndexError, ValueError):
        pass
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except psutil.Error:
        return None


def me() -> dict[str, Any]:
    """This process, as a holder entry."""
    return {"pid": os.getpid(), "started": process_started(os.getpid())}


def live_holders(path: Path) -> list[dict[str, Any]]:
    """The holders of `path` still alive (same pid, same start time), this process aside."""
    try:
        entries = json.loads((path / HOLDERS_FILE).read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return []  # written atomically: unreadable only if someone else wrote it
    live = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("pid") == os.getpid():
            continue
        started = process_started(int(entry.get("pid", 0)))
        if started is not None and started == entry.get("started"):
            live.append(entry)
    return live


def write_holders(path: Path, holders: list[dict[str, Any]]) -> None:
    """Replace the holder list of `path` at once (readers never see half of it)."""
    target = path / HOLDERS_FILE
    temp = target.with_name(f"{HOLDERS_FILE}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(holders))
    os.replace(temp, target)  # readers see the old list or the new one, never half
