"""`alma export` / `alma import` and `langgraph_alma.transfer`: a tenant's items and
checkpoints move to another database unchanged, a second import changes nothing, and a
bad file is refused whole, naming its line."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from langgraph_alma.alma import Alma
from langgraph_alma.errors import TransferError
from langgraph_alma.transfer import FORMAT, export_jsonl, import_jsonl

ITEMS = """SELECT ns_path, key, value, search_text, created_at, updated_at, ttl_minutes
           FROM alma_store WHERE tenant_id = %s ORDER BY ns_path, key"""
COUNTS = """SELECT (SELECT count(*) FROM alma_store WHERE tenant_id = %(t)s),
                   (SELECT count(*) FROM alma_store_vectors WHERE tenant_id = %(t)s),
                   (SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %(t)s),
                   (SELECT count(*) FROM alma_checkpoint_writes WHERE tenant_id = %(t)s),
                   (SELECT count(*) FROM alma_checkpoint_blobs WHERE tenant_id = %(t)s),
                   (SELECT count(*) FROM alma_checkpoint_blobs
                    WHERE tenant_id = %(t)s AND base_version IS NOT NULL)"""


def _rows(admin_url: str, query: str, params: object) -> list[tuple]:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(query, params).fetchall()


def _checkpoints(url: str, tenant: str, threads: list[str]) -> dict[str, list[tuple]]:
    """Every checkpoint of the threads, read back through the saver."""
    with Alma.connect(url, tenant, setup=False) as alma:
        return {
            t: [
                (
                    tup.config["configurable"]["checkpoint_id"],
                    (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
                    tup.checkpoint["channel_values"],
                    tup.checkpoint["channel_versions"],
                    tup.metadata["step"],
                    tup.metadata["source"],
                    tup.pending_writes,
                )
                for tup in alma.saver.list({"configurable": {"thread_id": t}})
            ]
            for t in threads
        }


def test_export_then_import_into_a_fresh_database(
    alma_cli, runner, seeded, database, fresh_database, tmp_path
) -> None:
    from langgraph_alma.cli import app

    path = tmp_path / "acme.jsonl"
    done = alma_cli("--tenant", seeded.tenant, "export", str(path))
    assert done.exit_code == 0, done.output
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == FORMAT and header["tenant"] == seeded.tenant
    kinds = [json.loads(line)["kind"] for line in lines[1:]]
    assert kinds.count("item") == header["items"] > 20
    assert kinds.count("checkpoint") == header["checkpoints"] > 30
    assert f"exported {header['items']} items and {header['checkpoints']} checkpoints" in (
        done.stdout
    )
    # The chat's messages are exported as appended tails, not whole lists each time.
    chat = [json.loads(x) for x in lines if f'"thread_id":"{seeded.chat}"' in x]
    assert sum("messages" in r["appends"] for r in chat) >= 4

    fresh = ["--url", fresh_database.url]
    imported = runner.invoke(app, [*fresh, "import", str(path)])  # into the file's tenant
    assert imported.exit_code == 0, imported.output
    assert f"into tenant {seeded.tenant!r}" in imported.stdout

    source = _rows(database.admin_url, ITEMS, (seeded.tenant,))
    target = _rows(fresh_database.admin_url, ITEMS, (seeded.tenant,))
    assert source == target  # values, full-text source, timestamps, ttl: all equal
    assert _checkpoints(fresh_database.url, seeded.tenant, seeded.threads) == _checkpoints(
        database.url, seeded.tenant, seeded.threads
    )
    counts = _rows(fresh_database.admin_url, COUNTS, {"t": seeded.tenant})[0]
    assert counts[2] == header["checkpoints"] and counts[3] > 0
    assert counts[5] >= 2  # the chat's messages are stored as deltas again

    # A second import changes nothing.
    again = runner.invoke(app, [*fresh, "import", str(path)])
    assert again.exit_code == 0, again.output
    assert _rows(fresh_database.admin_url, COUNTS, {"t": seeded.tenant})[0] == counts
    assert _rows(fresh_database.admin_url, ITEMS, (seeded.tenant,)) == source

    # The imported memories work: search finds what the demo graph learned.
    found = runner.invoke(
        app,
        [*fresh, "--tenant", seeded.tenant, "--project", seeded.project, "memories", "search",
         "retry with backoff", "--agent", "ops"],
    )  # fmt: skip
    assert "when task type is ops: retry with backoff" in found.stdout

    # --tenant imports into another tenant; the original stays as it was.
    copy = runner.invoke(app, [*fresh, "--tenant", "copy", "import", str(path)])
    assert copy.exit_code == 0 and "into tenant 'copy'" in copy.stdout
    assert [r[:4] for r in _rows(fresh_database.admin_url, ITEMS, ("copy",))] == [
        r[:4] for r in source
    ]


def test_export_to_stdout_and_import_from_stdin(alma_cli, runner, seeded, fresh_database) -> None:
    from langgraph_alma.cli import app

    done = alma_cli("--tenant", seeded.tenant, "export", "--no-checkpoints")
    assert done.exit_code == 0, done.output
    records = [json.loads(line) for line in done.stdout.splitlines()]  # stdout: only JSON
    assert records[0]["checkpoints"] == 0 and {r["kind"] for r in records[1:]} == {"item"}
    assert "exported" in done.stderr
    imported = runner.invoke(
        app, ["--url", fresh_database.url, "import", "-", "--progress"], input=done.stdout
    )
    assert imported.exit_code == 0, imported.output
    assert f"imported {len(records) - 1} items and 0 checkpoints" in imported.stdout


def test_a_bad_line_is_refused_with_nothing_written(
    runner, alma_cli, seeded, fresh_database, tmp_path
) -> None:
    from langgraph_alma.cli import app

    good = tmp_path / "good.jsonl"
    assert alma_cli("--tenant", seeded.tenant, "export", str(good)).exit_code == 0
    lines = good.read_text().splitlines()
    fresh = ["--url", fresh_database.url]
    cases = {
        "not json": (len(lines) - 1, "{not json", "not JSON"),
        "bad value": (3, json.dumps({**json.loads(lines[2]), "value": [1, 2]}), "'value' as dict"),
        "unknown kind": (len(lines), json.dumps({"kind": "mystery"}), "unknown record kind"),
    }
    for name, (number, line, message) in cases.items():
        bad = tmp_path / f"{name}.jsonl"
        bad.write_text("\n".join([*lines[: number - 1], line, *lines[number:]]) + "\n")
        done = runner.invoke(app, [*fresh, "import", str(bad)])
        assert done.exit_code == 1, name
        assert done.stderr.startswith(f"error: {bad}, line {number}: "), done.stderr
        assert message in done.stderr and done.stderr.count("\n") == 1
        assert "nothing was imported" in done.stderr
    # A line PostgreSQL refuses only at write time (a NUL in a thread id), after the
    # items were written: the whole import rolls back.
    first = next(i for i, x in enumerate(lines) if json.loads(x)["kind"] == "checkpoint")
    record = json.loads(lines[first])
    assert record["parent_checkpoint_id"] is None
    late = tmp_path / "late.jsonl"
    late.write_text("\n".join([*lines[:first], json.dumps({**record, "thread_id": "a\x00b"}),
                                *lines[first + 1 :]]))  # fmt: skip
    done = runner.invoke(app, [*fresh, "import", str(late)])
    assert done.exit_code == 1 and done.stderr.startswith("error: ")
    assert done.stderr.count("\n") == 1
    for table in ("alma_store", "alma_checkpoints", "alma_checkpoint_blobs"):
        assert _rows(fresh_database.admin_url, f"SELECT count(*) FROM {table}", ())[0][0] == 0


def test_truncated_or_foreign_files_are_refused(database, seeded) -> None:
    with Alma.connect(database.url, seeded.tenant, setup=False) as alma:
        out = io.StringIO()
        report = export_jsonl(alma.store, alma.saver, out)
        lines = out.getvalue().splitlines()
        assert report.total == len(lines) - 1
        with pytest.raises(TransferError, match="announces .* but the file holds"):
            import_jsonl(alma.store, alma.saver, lines[:-1])
        with pytest.raises(TransferError, match="line 1: format version 99"):
            import_jsonl(alma.store, alma.saver, [json.dumps({**json.loads(lines[0]),
                                                              "version": 99})])  # fmt: skip
        with pytest.raises(TransferError, match="line 1: the first record must be"):
            import_jsonl(alma.store, alma.saver, lines[1:])
        with pytest.raises(TransferError, match="empty input"):
            import_jsonl(alma.store, alma.saver, [])
        with pytest.raises(TransferError, match="need a saver"):
            import_jsonl(alma.store, None, lines)


def test_progress_is_reported(database, seeded, fresh_database) -> None:
    seen: list[tuple[int, int]] = []
    with Alma.connect(database.url, seeded.tenant, setup=False) as alma:
        out = io.StringIO()
        report = export_jsonl(
            alma.store, alma.saver, out, progress=lambda d, t: seen.append((d, t))
        )
    assert seen[-1] == (report.total, report.total) and len(seen) == report.total
    seen.clear()
    with Alma.connect(fresh_database.url, setup=False) as alma:
        out.seek(0)
        imported = import_jsonl(
            alma.store, alma.saver, out, progress=lambda d, t: seen.append((d, t))
        )
    assert imported.total == report.total and seen[-1] == (report.total, report.total)


def test_subprocess_malformed_file(database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "header", "format": "langgraph-alma", "version": 1, "tenant": "x"}\n'
                   "[1, 2\n")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "import", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {bad}, line 2: not JSON")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "langgraph_alma", "import", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr == f"error: no such file: {tmp_path / 'nope.jsonl'}\n"


def test_import_from_alma_memory(runner, database, tenant, tmp_path) -> None:
    if importlib.util.find_spec("langgraph_alma.transfer.alma_memory") is None:
        pytest.skip("langgraph_alma.transfer.alma_memory is not written yet")
    pytest.importorskip("alma.storage.sqlite_local")  # alma-memory, to write a source
    from alma.storage.sqlite_local import SQLiteStorage

    from langgraph_alma.cli import app
    from tests.transfer.test_alma_memory_import import populate

    source = tmp_path / "alma.db"
    populate(SQLiteStorage(db_path=source))
    args = ["--url", database.url, "--tenant", tenant, "import", "--from", "alma-memory"]
    done = runner.invoke(app, [*args, str(source)])
    assert done.exit_code == 0, done.output
    assert "imported " in done.stdout and "heuristic" in done.stdout
    missing = runner.invoke(app, [*args, str(tmp_path / "nope.db")])
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ")
