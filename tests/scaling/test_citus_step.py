"""The optional distribution step: planned from the real catalog, skipped without Citus."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from langgraph_alma.migrations.citus import CitusUnavailable, distribute, distribution_plan
from tests.conftest import Database


def test_the_plan_distributes_parents_before_children(database: Database) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        steps = distribution_plan(conn)
    tables = [params[0] for _, params in steps]
    assert tables[0] == "alma_migrations" and "create_reference_table" in steps[0][0]
    assert {"alma_checkpoints", "alma_store", "alma_entities", "alma_store_vectors"} <= set(tables)
    # Foreign keys: a table comes after the tables it references.
    assert tables.index("alma_store") < tables.index("alma_store_vectors")
    assert tables.index("alma_entities") < tables.index("alma_relationships")
    colocated = {params[1] for sql, params in steps[2:]}
    assert colocated == {tables[1]}, "every table in one colocation group"


def test_without_citus_nothing_changes_and_the_reason_is_given(database: Database) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        with pytest.raises(CitusUnavailable, match="citus extension is not available"):
            distribute(conn)
        assert (
            conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citus'").fetchone()[0]
            == 0
        )
    out = subprocess.run(
        [sys.executable, "-m", "langgraph_alma.migrations", "distribute", "--url",
         database.admin_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("skipped: the citus extension is not available")
    dry = subprocess.run(
        [sys.executable, "-m", "langgraph_alma.migrations", "distribute", "--dry-run",
         "--url", database.admin_url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "create_distributed_table('alma_checkpoints', 'tenant_id'" in dry.stdout
