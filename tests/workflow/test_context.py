"""WorkflowContext: validation, config mapping, and scoped retrieval with it."""

from __future__ import annotations

import pytest

from langgraph_alma.errors import ConfigError, TenantRequired
from langgraph_alma.workflow import RetrievalScope, WorkflowContext


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"node_id": "n"}, "run_id"),
        ({"run_id": "r"}, "workflow_id"),
        ({"branch_id": "b", "workflow_id": "w"}, "run_id"),
        ({"workflow_id": "w", "run_id": "r", "node_id": ""}, "node_id"),
    ],
)
def test_validate_names_the_missing_field(fields, missing) -> None:
    with pytest.raises(ConfigError, match=missing):
        WorkflowContext(**fields).validate()


def test_validate_accepts_a_complete_context_and_can_require_a_tenant() -> None:
    ctx = WorkflowContext(workflow_id="w", run_id="r", node_id="n", branch_id="b")
    assert ctx.validate() is ctx
    with pytest.raises(TenantRequired, match="tenant_id"):
        ctx.validate(require_tenant=True)
    WorkflowContext(tenant_id="acme").validate(require_tenant=True)


def test_context_is_frozen() -> None:
    ctx = WorkflowContext(run_id="r")
    with pytest.raises(ValueError):
        ctx.run_id = "other"  # type: ignore[misc]


def test_config_round_trip_uses_thread_id_for_the_run() -> None:
    ctx = WorkflowContext(tenant_id="acme", workflow_id="w", run_id="r", node_id="n", branch_id="b")
    config = ctx.to_config(agent="helena")
    assert config == {
        "configurable": {
            "tenant_id": "acme",
            "workflow_id": "w",
            "thread_id": "r",
            "node_id": "n",
            "branch_id": "b",
            "agent": "helena",
        }
    }
    assert WorkflowContext.from_config(config) == ctx
    assert WorkflowContext.from_config(None) == WorkflowContext()


def test_from_config_takes_the_servers_graph_id() -> None:
    ctx = WorkflowContext.from_config({"configurable": {"thread_id": 7, "graph_id": "g"}})
    assert (ctx.workflow_id, ctx.run_id) == ("g", "7")
    both = {"configurable": {"workflow_id": "w", "graph_id": "g"}}
    assert WorkflowContext.from_config(both).workflow_id == "w"


def test_retrieve_with_a_workflow_context(alma) -> None:
    a = WorkflowContext(workflow_id="checkout", run_id="r1", node_id="login")
    b = WorkflowContext(workflow_id="signup", run_id="r2", node_id="form")
    alma.learn("helena", "test the login form", "success", "fill then submit", context=a)
    alma.learn("helena", "test the signup form", "success", "fill then submit", context=b)
    found = alma.retrieve("test the form", "helena", context=a, scope=RetrievalScope.WORKFLOW)
    assert [o.workflow_id for o in found.outcomes] == ["checkout"]
    node = alma.retrieve("form", "helena", context=b, scope=RetrievalScope.NODE)
    assert [(o.run_id, o.node_id) for o in node.outcomes] == [("r2", "form")]
    with pytest.raises(ConfigError, match="run_id"):
        alma.retrieve("form", "helena", context=WorkflowContext(workflow_id="w"), scope="run")
