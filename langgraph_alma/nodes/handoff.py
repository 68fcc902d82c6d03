"""A node that closes the run's session with its handoff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

from langgraph_alma.nodes._node import AlmaNode, Needs, agent_of, injected_alma, is_async
from langgraph_alma.nodes.calls import Body
from langgraph_alma.session.manager import AsyncSessionManager, SessionManager

_OUTCOMES = {"success": "success", "failure": "failure", True: "success", False: "failure"}


def handoff(
    sessions: SessionManager | AsyncSessionManager | None = None,
    agent: str | None = None,
    *,
    summary_key: str = "task",
    decisions_key: str = "decisions",
    blockers_key: str = "blockers",
    next_steps_key: str = "next_steps",
    session_key: str = "session_id",
    action_key: str = "strategy",
    outcome_key: str = "outcome",
    output_key: str = "handoff_id",
) -> AlmaNode:
    """A node closing the session the `initializer` opened (`state[session_key]`) with a
    `SessionHandoff` from the state: summary, key decisions, blockers, next steps, the
    last action (`state[action_key]`) and its outcome (`state[outcome_key]`: success or
    failure; "interrupted" when the run set none). With no open session in the state it
    records a complete handoff instead.

    `sessions` is a `SessionManager` (or async one); built without, the node uses the
    store the graph runs with, for the run's tenant, project and agent.

    >>> builder.add_node("handoff", handoff(SessionManager(store), "helena"))  # doctest: +SKIP
    """

    def resolve(config: RunnableConfig | None) -> Needs[SessionManager | AsyncSessionManager]:
        found = sessions
        if found is None:
            facade = injected_alma(config)
            cls = AsyncSessionManager if is_async(facade, "retrieve") else SessionManager
            found = cls(facade.store, project_id=facade.core.project_id, clock=facade.core.clock)
        return Needs(found, is_async(found, "create_handoff"))

    def body(
        state: Mapping[str, Any],
        config: RunnableConfig | None,
        needs: Needs[SessionManager | AsyncSessionManager],
    ) -> Body[dict[str, Any]]:
        who = agent_of(agent, config)
        outcome = _OUTCOMES.get(state.get(outcome_key), "interrupted")
        recorded = yield lambda: needs.facade.create_handoff(
            None,
            who,
            state.get(session_key),
            str(state.get(action_key) or ""),
            outcome,
            summary=str(state.get(summary_key) or ""),
            current_goal=str(state.get(summary_key) or ""),
            key_decisions=list(state.get(decisions_key) or []),
            blockers=list(state.get(blockers_key) or []),
            next_steps=list(state.get(next_steps_key) or []),
        )
        return {output_key: recorded.session_id}

    return AlmaNode("handoff", resolve, body)
