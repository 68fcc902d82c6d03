"""`WorkflowContext`: where a piece of work runs (tenant, workflow, run, node, branch),
and its mapping to a LangGraph config's `configurable`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from langgraph_alma.errors import ConfigError, TenantRequired

# field -> the field it needs: a node runs in a run, a run in a workflow, a branch in a run
_NEEDS = (("node_id", "run_id"), ("run_id", "workflow_id"), ("branch_id", "run_id"))


class WorkflowContext(BaseModel):
    """The scope of a workflow step. `run_id` is LangGraph's `thread_id`.

    >>> ctx = WorkflowContext(tenant_id="acme", workflow_id="checkout", run_id="run-42")
    >>> ctx.to_config()["configurable"]["thread_id"]
    'run-42'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    branch_id: str | None = None

    def validate(self, require_tenant: bool = False) -> WorkflowContext:  # type: ignore[override]  # pydantic's deprecated classmethod
        """Raise `ConfigError` naming the missing field; return self.

        >>> WorkflowContext(workflow_id="w", run_id="r", node_id="n").validate()  # doctest: +SKIP
        """
        for name in ("tenant_id", "workflow_id", "run_id", "node_id", "branch_id"):
            if getattr(self, name) == "":
                raise ConfigError(f"WorkflowContext.{name} must not be empty")
        if require_tenant and self.tenant_id is None:
            raise TenantRequired("WorkflowContext.tenant_id is required here")
        for field, needs in _NEEDS:
            if getattr(self, field) is not None and getattr(self, needs) is None:
                raise ConfigError(
                    f"WorkflowContext has {field}={getattr(self, field)!r} but no {needs}: "
                    f"a {field.removesuffix('_id')} needs a {needs.removesuffix('_id')}"
                )
        return self

    def require(self, *names: str) -> WorkflowContext:
        """Raise `ConfigError` unless every named field is set (after `validate`)."""
        self.validate()
        for name in names:
            if getattr(self, name) is None:
                raise ConfigError(f"this operation needs WorkflowContext.{name}")
        return self

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> WorkflowContext:
        """The context a LangGraph config describes (`thread_id` is the run; the
        server's `graph_id` stands in for `workflow_id`).

        >>> WorkflowContext.from_config({"configurable": {"thread_id": "r1"}}).run_id
        'r1'
        """
        conf = dict((config or {}).get("configurable") or {})

        def text(*keys: str) -> str | None:
            for key in keys:
                if conf.get(key) is not None:
                    return str(conf[key])
            return None

        return cls(
            tenant_id=text("tenant_id"),
            workflow_id=text("workflow_id", "graph_id"),
            run_id=text("thread_id"),
            node_id=text("node_id"),
            branch_id=text("branch_id"),
        )

    def to_config(self, **configurable: Any) -> dict[str, Any]:
        """A LangGraph config for this context; extra keys go into `configurable`.

        >>> WorkflowContext(run_id="r1").to_config(agent="helena")  # doctest: +SKIP
        """
        keys = {
            "tenant_id": self.tenant_id,
            "workflow_id": self.workflow_id,
            "thread_id": self.run_id,
            "node_id": self.node_id,
            "branch_id": self.branch_id,
        }
        return {
            "configurable": {**{k: v for k, v in keys.items() if v is not None}, **configurable}
        }

    def with_node(self, node_id: str | None, branch_id: str | None = None) -> WorkflowContext:
        """This context at another node (and branch)."""
        return self.model_copy(update={"node_id": node_id, "branch_id": branch_id})


_NEEDS_WORKFLOW = ("node", "run", "workflow")


def needs_workflow(context: Any, scope: Any) -> str | None:
    """The run whose workflow a retrieval must look up: `scope` is NODE, RUN or WORKFLOW
    and `context` names a run but no workflow (the summary's
    `WorkflowContext(run_id="run-123")`). None when nothing is missing."""
    if str(getattr(scope, "value", scope)) not in _NEEDS_WORKFLOW or context is None:
        return None
    get = context.get if isinstance(context, Mapping) else lambda k: getattr(context, k, None)
    run = get("run_id")
    return str(run) if run is not None and get("workflow_id") is None else None


def with_workflow(context: Any, workflow_id: str | None) -> Any:
    """`context` with `workflow_id` filled in (unchanged when None)."""
    if workflow_id is None:
        return context
    if isinstance(context, WorkflowContext):
        return context.model_copy(update={"workflow_id": workflow_id})
    if isinstance(context, Mapping):
        return {**context, "workflow_id": workflow_id}
    return context
