"""The node to put first: read the task, open a session, retrieve what the agent learned
(past workflow runs included), and hand it to the rest of the graph as state keys and a
system message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from langgraph_alma.alma.protocols import AsyncFacade, Facade
from langgraph_alma.nodes._node import AlmaNode, Needs, agent_of, async_facade, injected_alma
from langgraph_alma.nodes.calls import Body
from langgraph_alma.session.initializer import AsyncSessionInitializer, SessionInitializer
from langgraph_alma.session.manager import AsyncSessionManager, SessionManager
from langgraph_alma.workflow.context import WorkflowContext


def task_from_state(state: Mapping[str, Any], task_key: str = "task") -> str:
    """The task: `state[task_key]`, else the last human message's text."""
    if state.get(task_key):
        return str(state[task_key])
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage) or getattr(message, "type", None) == "human":
            return str(message.content)
    raise ValueError(f"no task: state has no {task_key!r} and no human message")


def initializer(
    alma: Facade | AsyncFacade | None = None,
    agent: str | None = None,
    *,
    task_key: str = "task",
    output_key: str = "memories",
    top_k: int = 5,
    max_tokens: int = 1000,
    user_id_key: str = "user_id",
    session: SessionInitializer | AsyncSessionInitializer | None = None,
    expand: bool = False,
    project_id: str | None = None,
    codebase_path: str | None = None,
    result_key: str = "initialization",
    session_key: str = "session_id",
    rank_by_confidence: bool | None = None,
) -> AlmaNode:
    """A node that opens a session (its id in `state[session_key]`, for the `handoff`
    node to close), retrieves `agent`'s memories for the task, past workflow runs
    included, and writes them to `state[output_key]` (prompt text) and, when the state
    has messages, a system message carrying them.

    With `session` (a `SessionInitializer`) or `expand=True` it initializes the session
    instead (work items from the task, rules, constraints, memories; the result also in
    `state[result_key]`); the work items are made once per thread, however many runs.

    Heuristics come ranked by the confidence engine's forward-looking score for their
    strategy on the task (see `Alma.retrieve`); `rank_by_confidence=False` (or
    `ALMA_RANK_HEURISTICS_BY_CONFIDENCE=false`) keeps relevance order.

    Built without `alma`, it uses the store the graph runs with (`compile(store=...)`
    or the server's) and the run's `configurable` tenant, project and agent; sync and
    async graphs alike (`invoke`, `ainvoke`, `astream`).

    >>> builder.add_node("init", initializer(alma, agent="helena"))   # doctest: +SKIP
    >>> builder.add_node("init", initializer())                       # doctest: +SKIP
    """

    def resolve(config: RunnableConfig | None) -> Needs[Facade | AsyncFacade]:
        facade: Facade | AsyncFacade
        if session is not None:
            facade = session.alma
        else:
            facade = injected_alma(config) if alma is None else alma
        return Needs(facade, async_facade(facade))

    def body(
        state: Mapping[str, Any], config: RunnableConfig | None, needs: Needs[Facade | AsyncFacade]
    ) -> Body[dict[str, Any]]:
        facade, who = needs.facade, agent_of(agent, config)
        task = task_from_state(state, task_key)
        ctx = WorkflowContext.from_config(config)
        project = project_id or facade.core.project_id
        update: dict[str, Any] = {task_key: task}
        if session is not None or expand:
            init = session
            if init is None:
                init = (
                    AsyncSessionInitializer(facade)
                    if async_facade(facade)
                    else SessionInitializer(facade)
                )
            result = yield lambda: init.initialize(
                project, who, task, codebase_path=codebase_path, key=ctx.run_id, context=ctx
            )
            prompt, session_id = result.to_prompt(), result.session_id
            update[result_key] = result.model_dump(mode="json")
        else:
            manager = AsyncSessionManager if needs.asynchronous else SessionManager
            sessions = manager(facade.store, project_id=project, clock=facade.core.clock)
            opened = yield lambda: sessions.start_session(project, who)
            found = yield lambda: facade.retrieve(
                task,
                agent=who,
                project_id=project,
                user_id=state.get(user_id_key),
                top_k=top_k,
                context=ctx,
                include_workflow_outcomes=True,
                rank_by_confidence=rank_by_confidence,
            )
            prompt, session_id = found.to_prompt(max_tokens=max_tokens), opened.session_id
        update[output_key] = prompt
        update[session_key] = session_id
        if "messages" in state and prompt:
            update["messages"] = [SystemMessage(content=f"What you learned before:\n{prompt}")]
        return update

    return AlmaNode("initializer", resolve, body)
