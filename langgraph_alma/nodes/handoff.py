"""A node that writes the session handoff at the end of a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def handoff(
    sessions: Any,
    agent: str,
    *,
    summary_key: str = "task",
    decisions_key: str = "decisions",
    blockers_key: str = "blockers",
    next_steps_key: str = "next_steps",
    output_key: str = "handoff_id",
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A node recording a `SessionHandoff` for `agent` from the state (summary, key
    decisions, blockers, next steps) through a `SessionManager`.

    >>> builder.add_node("handoff", handoff(SessionManager(store), "helena"))  # doctest: +SKIP
    """

    def node(state: dict[str, Any]) -> dict[str, Any]:
        recorded = sessions.create_handoff(
            agent=agent,
            summary=str(state.get(summary_key) or ""),
            key_decisions=list(state.get(decisions_key) or []),
            blockers=list(state.get(blockers_key) or []),
            next_steps=list(state.get(next_steps_key) or []),
        )
        return {output_key: recorded.session_id}

    return node
