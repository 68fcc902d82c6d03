"""`alma threads --expired` and `alma prune --older-than`, against real threads."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
from langchain_core.messages import HumanMessage

from langgraph_alma import AlmaSaver
from tests.cli.conftest import _chat_graph


def _age(database, tenant: str, thread: str, days: int) -> None:
    """Make a thread's checkpoints `days` old (the admin role may rewrite history)."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alma_checkpoints SET created_at = now() - %s * interval '1 day' "
            "WHERE tenant_id = %s AND thread_id = %s",
            (days, tenant, thread),
        )


def test_prune_older_than(alma_cli, database, tenant) -> None:
    with AlmaSaver.from_conn_string(database.url, tenant_id=tenant) as saver:
        graph = _chat_graph().compile(checkpointer=saver)
        for thread in ("old-1", "old-2", "recent"):
            graph.invoke(
                {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": thread}}
            )
        _age(database, tenant, "old-1", 40)
        _age(database, tenant, "old-2", 31)
        assert [t.thread_id for t in saver.inactive_threads(timedelta(days=30))] == [
            "old-1",
            "old-2",
        ]

        dry = alma_cli("--tenant", tenant, "prune", "--older-than", "30d", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "old-1" in dry.stdout and "recent" not in dry.stdout
        assert "dry run: 2 threads would be deleted" in dry.stdout
        assert len(list(saver.list({"configurable": {"thread_id": "old-1"}}))) > 0

        refused = alma_cli("--tenant", tenant, "prune", "--older-than", "30d", input="n\n")
        assert refused.exit_code == 1 and "nothing deleted" in refused.stdout
        done = alma_cli("--tenant", tenant, "prune", "--older-than", "30d", "--yes")
        assert done.exit_code == 0, done.output
        assert "deleted 2 threads" in done.stdout
        assert list(saver.list({"configurable": {"thread_id": "old-1"}})) == []
        assert len(list(saver.list({"configurable": {"thread_id": "recent"}}))) > 0

        # Another tenant's old threads are not this tenant's to prune.
        other = alma_cli("--tenant", "someone-else", "prune", "--older-than", "1m", "--yes")
        assert other.exit_code == 0 and "no thread" in other.stdout
        assert len(list(saver.list({"configurable": {"thread_id": "recent"}}))) > 0

    bad = alma_cli("--tenant", tenant, "prune", "--older-than", "soon")
    assert bad.exit_code == 2 and "use a positive number" in bad.output


def test_threads_expired(alma_cli, database, tenant) -> None:
    with AlmaSaver.from_conn_string(database.url, tenant_id=tenant, ttl={"default_ttl": 1}) as s:
        graph = _chat_graph().compile(checkpointer=s)
        graph.invoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "soon"}})
        s.set_thread_ttl("soon", 0.001)  # expired a tenth of a second after its last write
    time.sleep(0.2)
    done = alma_cli("--tenant", tenant, "threads", "--expired")
    assert done.exit_code == 0, done.output
    assert "soon" in done.stdout and "expired threads of tenant" in done.stdout
