"""The node to put last: record the run's outcome and learn from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

from langgraph_alma.alma.protocols import AsyncLearningFacade, LearningFacade
from langgraph_alma.nodes._node import AlmaNode, Needs, agent_of, injected_alma, is_async
from langgraph_alma.nodes.calls import Body
from langgraph_alma.workflow.context import WorkflowContext
from langgraph_alma.workflow.core import WORKFLOW_TASK_TYPE


def learn(
    alma: LearningFacade | AsyncLearningFacade | None = None,
    agent: str | None = None,
    *,
    task_key: str = "task",
    choice_key: str = "strategy",
    success_key: str = "success",
    task_type: str | None = None,
    outcome_key: str = "outcome",
) -> AlmaNode:
    """A node that learns from the run: with a workflow and run in the config it records
    the run's `WorkflowOutcome` through `learn_from_workflow` (whose patterns feed
    heuristic and anti-pattern learning); otherwise it learns one outcome of the strategy
    used (`state[choice_key]`, success from `state[success_key]`). Either way under
    `task_type` (a workflow's default: "workflow"), which the agent's domain must allow.

    Built without `alma`, it learns into the store the graph runs with, for the run's
    `configurable` tenant, project and agent.

    >>> builder.add_node("learn", learn(alma, "helena", task_type="testing"))  # doctest: +SKIP
    """

    def resolve(config: RunnableConfig | None) -> Needs[LearningFacade | AsyncLearningFacade]:
        facade = injected_alma(config) if alma is None else alma
        return Needs(facade, is_async(facade, "learn"))

    def body(
        state: Mapping[str, Any],
        config: RunnableConfig | None,
        needs: Needs[LearningFacade | AsyncLearningFacade],
    ) -> Body[dict[str, Any]]:
        facade, who = needs.facade, agent_of(agent, config)
        success = bool(state.get(success_key))
        strategy = state.get(choice_key)
        task = str(state.get(task_key) or "")
        ctx = WorkflowContext.from_config(config)
        if ctx.workflow_id and ctx.run_id:
            patterns = [strategy] if strategy else []
            outcome = {
                "result": "success" if success else "failure",
                "summary": task,
                "strategies_used": patterns,
                "successful_patterns": patterns if success else [],
                "failed_patterns": [] if success else patterns,
                "error_message": state.get("error"),
            }
            yield lambda: facade.learn_from_workflow(
                ctx,
                outcome,
                cleanup_checkpoints=False,
                agent=who,
                task_type=task_type or WORKFLOW_TASK_TYPE,
            )
        elif strategy:
            yield lambda: facade.learn(
                who,
                task,
                "success" if success else "failure",
                strategy,
                task_type=task_type,
                error_message=state.get("error"),
            )
        return {outcome_key: "success" if success else "failure"}

    return AlmaNode("learn", resolve, body)
