"""Tenant isolation: row-level security seen with raw SQL as the application role, and
the saver's own tenant binding."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterator
from typing import Annotated, TypedDict

import psycopg
import pytest
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, TenantMismatch
from langgraph_alma.db.connect import connection_kwargs

TABLES = ("alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes")


class S(TypedDict):
    items: Annotated[list[str], operator.add]


def _graph(saver: AlmaSaver):
    b = StateGraph(S)
    b.add_node("work", lambda s: {"items": ["done"]})
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b.compile(checkpointer=saver)


@pytest.fixture
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture
def two_tenants(pool) -> tuple[str, str, str]:
    """Tenants A and B, each with a finished thread (same thread id in both)."""
    a, b = f"A-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"
    thread = f"shared-{uuid.uuid4().hex[:8]}"
    saver = AlmaSaver(pool)
    for t in (a, b):
        _graph(saver).invoke(
            {"items": [t]}, {"configurable": {"thread_id": thread, "tenant_id": t}}
        )
    return a, b, thread


def _counts(conn: psycopg.Connection, tenant: str) -> dict[str, int]:
    return {
        t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = %s", (tenant,)).fetchone()[0]
        for t in TABLES
    }


def _admin_counts(database, tenant: str) -> dict[str, int]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return _counts(conn, tenant)


def test_app_role_is_subject_to_row_level_security(database) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        user, superuser, bypass = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert (user, superuser, bypass) == ("alma_app", False, False)
        for table in TABLES:
            enabled, forced = conn.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
                (table,),
            ).fetchone()
            assert enabled and forced, table


def test_raw_sql_as_app_role_sees_and_touches_only_its_tenant(database, two_tenants) -> None:
    a, b, thread = two_tenants
    b_before = _admin_counts(database, b)
    assert all(n > 0 for n in b_before.values()), b_before

    with psycopg.connect(database.url, autocommit=True) as conn:
        # No tenant set: nothing is visible, whatever the query asks for.
        for table in TABLES:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        assert conn.execute("UPDATE alma_checkpoints SET step = 99").rowcount == 0
        assert conn.execute("DELETE FROM alma_checkpoint_blobs").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO alma_checkpoints (tenant_id, thread_id, checkpoint_id, checkpoint) "
                "VALUES (%s, 'planted', 'x', '{}')",
                (a,),
            )

        with conn.transaction():
            conn.execute("SELECT set_config('alma.tenant_id', %s, true)", (a,))
            # Only A's rows are visible, even without a WHERE on tenant_id.
            visible = {
                r[0]
                for r in conn.execute("SELECT DISTINCT tenant_id FROM alma_checkpoints").fetchall()
            }
            assert visible == {a}
            assert all(n > 0 for n in _counts(conn, a).values())
            assert _counts(conn, b) == dict.fromkeys(TABLES, 0)
            assert (
                conn.execute(
                    "SELECT count(*) FROM alma_checkpoints WHERE thread_id = %s", (thread,)
                ).fetchone()[0]
                == _admin_counts(database, a)["alma_checkpoints"]
            )

            # B's rows cannot be updated or deleted.
            for table in TABLES:
                assert (
                    conn.execute(
                        f"UPDATE {table} SET thread_id = 'stolen' WHERE tenant_id = %s", (b,)
                    ).rowcount
                    == 0
                )
                assert conn.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (b,)).rowcount == 0

            # Rows for B cannot be written while acting for A: not inserted...
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                conn.transaction(),
            ):
                conn.execute(
                    "INSERT INTO alma_checkpoints (tenant_id, thread_id, checkpoint_id, "
                    "checkpoint) VALUES (%s, 'planted', 'x', '{}')",
                    (b,),
                )
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                conn.transaction(),
            ):
                conn.execute(
                    "INSERT INTO alma_checkpoint_writes (tenant_id, thread_id, "
                    "checkpoint_id, task_id, idx, channel, blob) "
                    "VALUES (%s, 'planted', 'x', 't', 0, 'c', '')",
                    (b,),
                )
            # ...nor moved there from A.
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                conn.transaction(),
            ):
                conn.execute("UPDATE alma_checkpoints SET tenant_id = %s", (b,))
            # A's own rows stay writable.
            assert (
                conn.execute(
                    "UPDATE alma_checkpoints SET source = source WHERE tenant_id = %s", (a,)
                ).rowcount
                > 0
            )

        # The setting was transaction-local: nothing is visible again.
        assert conn.execute("SELECT count(*) FROM alma_checkpoints").fetchone()[0] == 0

    assert _admin_counts(database, b) == b_before
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM alma_checkpoints WHERE thread_id = 'stolen' "
                "OR thread_id = 'planted'"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %s AND step = 99", (b,)
            ).fetchone()[0]
            == 0
        )


def test_bound_saver_cannot_reach_another_tenant(database, pool, two_tenants) -> None:
    a, b, thread = two_tenants
    saver = AlmaSaver(pool)
    saver_a = saver.for_tenant(a)
    assert saver_a.tenant_id == a and saver.tenant_id is None
    mine = saver_a.get_tuple({"configurable": {"thread_id": thread}})
    assert mine is not None and mine.checkpoint["channel_values"]["items"] == [a, "done"]

    # B's thread, by id, is out of reach of A's saver: it only ever finds A's.
    assert list(AlmaSaver(pool, tenant_id=a).list(None, filter={"source": "loop"}))
    for found in saver_a.list(None):
        assert found.checkpoint["channel_values"].get("items", [a])[0] == a
    only_b = f"only-b-{uuid.uuid4().hex[:8]}"
    _graph(saver.for_tenant(b)).invoke({"items": ["b"]}, {"configurable": {"thread_id": only_b}})
    assert saver_a.get_tuple({"configurable": {"thread_id": only_b}}) is None
    assert list(saver_a.list({"configurable": {"thread_id": only_b}})) == []
    assert _graph(saver_a).get_state({"configurable": {"thread_id": only_b}}).values == {}

    # A config naming B on a saver bound to A is refused, before anything is read or written.
    b_before = _admin_counts(database, b)
    config_b = {"configurable": {"thread_id": only_b, "tenant_id": b}}
    with pytest.raises(TenantMismatch) as info:
        saver_a.get_tuple(config_b)
    assert (info.value.bound, info.value.requested) == (a, b)
    with pytest.raises(TenantMismatch):
        list(saver_a.list(config_b))
    with pytest.raises(TenantMismatch):
        _graph(saver_a).invoke({"items": ["x"]}, config_b)
    assert _admin_counts(database, b) == b_before

    # Deleting through A's saver leaves B's thread of the same id alone.
    saver_a.delete_thread(thread)
    assert saver_a.get_tuple({"configurable": {"thread_id": thread}}) is None
    theirs = saver.for_tenant(b).get_tuple({"configurable": {"thread_id": thread}})
    assert theirs is not None and theirs.checkpoint["channel_values"]["items"] == [b, "done"]


def test_list_by_scope_columns(database, pool, tenant) -> None:
    other_tenant = f"{tenant}-other"
    saver = AlmaSaver(pool)
    runs = [
        (tenant, "checkout", "helena"),
        (tenant, "checkout", "victor"),
        (tenant, "refunds", "helena"),
        (other_tenant, "checkout", "helena"),
    ]
    threads: dict[tuple[str, str, str], str] = {}
    for t, workflow, agent in runs:
        thread = f"scope-{uuid.uuid4().hex[:8]}"
        threads[(t, workflow, agent)] = thread
        _graph(saver).invoke(
            {"items": [thread]},
            {
                "configurable": {
                    "thread_id": thread,
                    "tenant_id": t,
                    "workflow_id": workflow,
                    "agent": agent,
                    "project_id": "p1",
                },
                "metadata": {"run_id": f"run-{thread}"},
            },
        )
    # LangGraph's server names: assistant_id for the agent, graph_id for the workflow.
    server_thread = f"scope-{uuid.uuid4().hex[:8]}"
    _graph(saver).invoke(
        {"items": ["srv"]},
        {
            "configurable": {
                "thread_id": server_thread,
                "tenant_id": tenant,
                "graph_id": "support",
                "assistant_id": "asst-1",
            }
        },
    )

    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", (tenant,))

        def threads_of(where: str, params: tuple) -> set[str]:
            return {
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT thread_id FROM alma_checkpoints WHERE {where}", params
                )
            }

        assert threads_of("workflow_id = %s", ("checkout",)) == {
            threads[(tenant, "checkout", "helena")],
            threads[(tenant, "checkout", "victor")],
        }
        assert threads_of("workflow_id = %s AND agent = %s", ("checkout", "helena")) == {
            threads[(tenant, "checkout", "helena")]
        }
        assert threads_of("agent = %s", ("helena",)) == {
            threads[(tenant, "checkout", "helena")],
            threads[(tenant, "refunds", "helena")],
        }
        assert threads_of("project_id = %s", ("p1",)) == {
            v for k, v in threads.items() if k[0] == tenant
        }
        assert threads_of("workflow_id = %s AND agent = %s", ("support", "asst-1")) == {
            server_thread
        }

        # Scope columns of one run: node, step and source of each checkpoint.
        rows = conn.execute(
            "SELECT step, source, node_id, run_id FROM alma_checkpoints "
            "WHERE thread_id = %s ORDER BY checkpoint_id",
            (threads[(tenant, "refunds", "helena")],),
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(-1, "input"), (0, "loop"), (1, "loop")]
        assert rows[-1][2] == "work"
        assert {r[3] for r in rows} == {f"run-{threads[(tenant, 'refunds', 'helena')]}"}

        # The scoped query uses the scope index, not a scan of every tenant's rows.
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT thread_id FROM alma_checkpoints WHERE tenant_id = %s "
                "AND workflow_id = %s AND agent = %s",
                (tenant, "checkout", "helena"),
            )
        )
        assert "alma_checkpoints_scope_idx" in plan
