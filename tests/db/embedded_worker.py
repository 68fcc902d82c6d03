"""Worker processes for tests/db/test_embedded_lifecycle.py (imported by spawned children).

`rounds` starts and stops the embedded server in lockstep with its siblings; `hold`
starts it, says so on stdout and holds it until its stdin closes (or it is killed).
"""

from __future__ import annotations

import random
import sys
import traceback
from pathlib import Path
from typing import Any

import psycopg


def rounds(data_dirs: list[str], barrier: Any, failures: Any) -> None:
    """For each data dir: wait for every sibling, start, query, stop; report errors."""
    from langgraph_alma.db.embedded import start_embedded

    for data_dir in data_dirs:
        barrier.wait()
        try:
            server = start_embedded(Path(data_dir))
            with psycopg.connect(server.app_url, connect_timeout=20) as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("alma_app",)
            random.seed()
            if random.random() < 0.5:  # some stop at once, some a little later
                import time

                time.sleep(random.random() * 0.05)
            server.stop()
        except BaseException:  # reported, so the round still ends for everyone
            failures.put(f"{data_dir}: {traceback.format_exc()}")
        barrier.wait()
    failures.put(None)  # done


def hold(data_dir: str) -> None:
    """Hold the server until stdin closes."""
    from langgraph_alma.db.embedded import start_embedded

    server = start_embedded(Path(data_dir))
    with psycopg.connect(server.app_url, connect_timeout=20) as conn:
        conn.execute("SELECT 1")
    print("ready", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    hold(sys.argv[1])
