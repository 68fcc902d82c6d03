"""The node to put first: read the task, retrieve what the agent learned, and hand it to
the rest of the graph as a state key and a system message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from langgraph_alma.workflow.context import WorkflowContext


def task_from_state(state: dict[str, Any], task_key: str = "task") -> str:
    """The task: `state[task_key]`, else the last human message's text."""
    if state.get(task_key):
        return str(state[task_key])
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage) or getattr(message, "type", None) == "human":
            return str(message.content)
    raise ValueError(f"no task: state has no {task_key!r} and no human message")


def initializer(
    alma: Any,
    agent: str,
    *,
    task_key: str = "task",
    output_key: str = "memories",
    top_k: int = 5,
    max_tokens: int = 1000,
    user_id_key: str = "user_id",
    session: Any = None,
    project_id: str | None = None,
    codebase_path: str | None = None,
    result_key: str = "initialization",
) -> Callable[[dict[str, Any], RunnableConfig], dict[str, Any]]:
    """A node that retrieves `agent`'s memories for the task and writes them to
    `state[output_key]` (the prompt text) and, when the state has messages, a system
    message carrying them. With `session` (a `SessionInitializer`) it initializes the
    session instead (work items, orientation, rules, memories) and also writes the
    result to `state[result_key]`.

    >>> builder.add_node("init", initializer(alma, agent="helena"))   # doctest: +SKIP
    """

    def node(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        task = task_from_state(state, task_key)
        update: dict[str, Any] = {task_key: task}
        if session is not None:
            result = session.initialize(
                project_id or alma.core.project_id, agent, task, codebase_path=codebase_path
            )
            prompt = result.to_prompt()
            update[result_key] = result.model_dump(mode="json")
        else:
            found = alma.retrieve(
                task,
                agent=agent,
                user_id=state.get(user_id_key),
                top_k=top_k,
                context=WorkflowContext.from_config(config),
            )
            prompt = found.to_prompt(max_tokens=max_tokens)
        update[output_key] = prompt
        if "messages" in state and prompt:
            update["messages"] = [SystemMessage(content=f"What you learned before:\n{prompt}")]
        return update

    return node
