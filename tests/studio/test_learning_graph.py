"""`langgraph dev` serves examples/studio's learning graph, built from the prebuilt nodes
with no Alma: run through langgraph-sdk several times, the later runs' prompts hold what
the earlier runs learned, in the server's store (AlmaStore) for the server's tenant."""

from __future__ import annotations

from typing import Any

from tests.studio.test_dev_server import _rows, dev_server, langgraph_sdk

__all__ = ["dev_server"]

WORKS = "retry with backoff"


def test_learning_graph_learns_across_runs_on_the_dev_server(
    dev_server: str, database: Any, tenant: str
) -> None:
    client = langgraph_sdk.get_sync_client(url=dev_server)
    assistant = client.assistants.search(graph_id="learning")[0]["assistant_id"]
    config = {"configurable": {"agent": "ops"}}
    runs = []
    for night in range(6):
        thread = client.threads.create()["thread_id"]
        task = f"the nightly export job times out again (night {night})"
        if night % 2:  # as Studio runs a graph: streamed
            events = client.runs.stream(thread, assistant, input={"task": task}, config=config)
            state = [e.data for e in events if e.event == "values"][-1]
        else:
            state = client.runs.wait(thread, assistant, input={"task": task}, config=config)
        runs.append(state)
    first, last = runs[0], runs[-1]
    assert "Relevant strategies" not in first["memories"]  # nothing learned yet
    assert first["strategy"] == "restart the worker" and first["outcome"] == "failure"
    # what the earlier runs learned is in the later runs' prompts, and steers them
    assert f"{WORKS} (confidence" in last["memories"]
    assert "## Past workflow runs" in last["memories"]
    assert last["strategy"] == WORKS and last["outcome"] == "success"
    assert last["ranked"][0]["strategy"] == WORKS
    # each run opened a session (initializer) and closed it (handoff)
    assert all(r["session_id"] and r["handoff_id"] == r["session_id"] for r in runs)
    # all of it in our tables, for the server's tenant, learned by the agent "ops"
    learned = _rows(
        database.admin_url,
        "SELECT value->>'kind', value->>'agent', count(*) FROM alma_store "
        "WHERE tenant_id = %s AND value->>'kind' IN ('heuristic', 'workflow_outcome') "
        "GROUP BY 1, 2 ORDER BY 1",
        (tenant,),
    )
    kinds = {kind: (agent, n) for kind, agent, n in learned}
    assert kinds["heuristic"][0] == "ops" and kinds["workflow_outcome"] == ("ops", 6)
