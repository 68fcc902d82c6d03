"""A node that ranks candidate strategies by the confidence engine and can route by the
best one with `Command(goto=...)`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.types import Command


def rank_strategies(
    engine: Any,
    agent: str,
    *,
    task_key: str = "task",
    strategies_key: str = "strategies",
    output_key: str = "ranked",
    choice_key: str = "strategy",
    routes: Mapping[str, str] | None = None,
    default_route: str | None = None,
) -> Callable[[dict[str, Any]], dict[str, Any] | Command]:
    """A node writing `state[output_key]` (strategies with score and recommendation, best
    first) and `state[choice_key]` (the best); with `routes` (strategy -> node) it returns
    a `Command` going to the best strategy's node.

    >>> node = rank_strategies(ConfidenceEngine(alma), "helena")   # doctest: +SKIP
    """

    def node(state: dict[str, Any]) -> dict[str, Any] | Command:
        strategies = list(state.get(strategies_key) or [])
        if not strategies:
            raise ValueError(f"state[{strategies_key!r}] lists no candidate strategies")
        ranked = engine.rank_strategies(state[task_key], strategies, agent)
        update = {
            output_key: [
                {"strategy": s.strategy, "score": s.score, "recommendation": s.recommendation}
                for s in ranked
            ],
            choice_key: ranked[0].strategy,
        }
        if routes is None:
            return update
        goto = routes.get(ranked[0].strategy, default_route)
        if goto is None:
            raise ValueError(f"no route for strategy {ranked[0].strategy!r} and no default_route")
        return Command(goto=goto, update=update)

    return node
