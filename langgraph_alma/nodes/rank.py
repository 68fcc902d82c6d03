"""A node that ranks candidate strategies by the confidence engine and can route by the
best one with `Command(goto=...)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from langgraph_alma.confidence import AsyncConfidenceEngine, ConfidenceEngine
from langgraph_alma.nodes._node import (
    AlmaNode,
    Needs,
    agent_of,
    async_facade,
    injected_alma,
    is_async,
)
from langgraph_alma.nodes.calls import Body
from langgraph_alma.workflow.context import WorkflowContext


def rank_strategies(
    engine: ConfidenceEngine | AsyncConfidenceEngine | None = None,
    agent: str | None = None,
    *,
    task_key: str = "task",
    strategies_key: str = "strategies",
    output_key: str = "ranked",
    choice_key: str = "strategy",
    routes: Mapping[str, str] | None = None,
    default_route: str | None = None,
) -> AlmaNode:
    """A node writing `state[output_key]` (strategies with score and recommendation, best
    first) and `state[choice_key]` (the best); with `routes` (strategy -> node) it returns
    a `Command` going to the best strategy's node.

    `engine` is a `ConfidenceEngine` (or async one); built without, the node uses an
    engine over the store the graph runs with, for the run's tenant, project and agent.

    >>> node = rank_strategies(ConfidenceEngine(alma), "helena")   # doctest: +SKIP
    """

    def resolve(config: RunnableConfig | None) -> Needs[ConfidenceEngine | AsyncConfidenceEngine]:
        found = engine
        if found is None:
            facade = injected_alma(config)
            found = (
                AsyncConfidenceEngine(facade) if async_facade(facade) else ConfidenceEngine(facade)
            )
        return Needs(found, is_async(found, "rank_strategies"))

    def body(
        state: Mapping[str, Any],
        config: RunnableConfig | None,
        needs: Needs[ConfidenceEngine | AsyncConfidenceEngine],
    ) -> Body[dict[str, Any] | Command[Any]]:
        who = agent_of(agent, config)
        strategies = list(state.get(strategies_key) or [])
        if not strategies:
            raise ValueError(f"state[{strategies_key!r}] lists no candidate strategies")
        ranked = yield lambda: needs.facade.rank_strategies(
            strategies, state[task_key], who, workflow=WorkflowContext.from_config(config)
        )
        best = ranked[0][0]
        update = {
            output_key: [
                {"strategy": s, "score": signal.score, "recommendation": signal.recommendation}
                for s, signal in ranked
            ],
            choice_key: best,
        }
        if routes is None:
            return update
        goto = routes.get(best, default_route)
        if goto is None:
            raise ValueError(f"no route for strategy {best!r} and no default_route")
        return Command(goto=goto, update=update)

    return AlmaNode("rank_strategies", resolve, body)
