"""Fixtures of the CLI tests: a CliRunner, and a tenant with real data in it (threads
from graph runs on AlmaSaver, memories the demo graph learned, a chat with messages)."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typer.testing import CliRunner

from langgraph_alma.alma import Alma
from langgraph_alma.cli import app
from langgraph_alma.demo import AGENT, STRATEGIES, build_graph
from langgraph_alma.memory import MemoryScope
from langgraph_alma.memory.core import AntiPatternWarning


@dataclass
class Seeded:
    tenant: str
    project: str
    threads: list[str]  # demo runs, then the chat
    chat: str


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _chat_graph() -> StateGraph:
    builder = StateGraph(Chat)
    builder.add_node(
        "reply", lambda s: {"messages": [AIMessage(f"echo {s['messages'][-1].content}")]}
    )
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder


def seed(url: str, tenant: str, runs: int = 7) -> Seeded:
    """Run the demo graph `runs` times and a 3-turn chat for `tenant` on `url`."""
    project = f"p-{uuid.uuid4().hex[:6]}"
    scopes = {AGENT: MemoryScope(agent_name=AGENT, min_occurrences_for_heuristic=2)}
    threads = []
    with Alma.connect(url, tenant, project, scopes, setup=False) as alma, warnings.catch_warnings():
        warnings.simplefilter("ignore", AntiPatternWarning)
        graph = build_graph(alma).compile(checkpointer=alma.saver, store=alma.store)
        for i in range(runs):
            thread = f"run-{i}-{uuid.uuid4().hex[:6]}"
            threads.append(thread)
            graph.invoke(
                {"task": f"the nightly export job times out ({i})", "strategies": STRATEGIES},
                {"configurable": {"thread_id": thread, "agent": AGENT, "workflow_id": "nightly"}},
            )
        alma.add_user_preference("ana", "style", "short answers, no emojis")
        alma.add_domain_knowledge(AGENT, "exports", "the export job runs at 02:00 UTC")
        chat = f"chat-{uuid.uuid4().hex[:6]}"
        graph = _chat_graph().compile(checkpointer=alma.saver)
        for text in ("hello", "how are you", "bye"):
            graph.invoke({"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": chat}})
        threads.append(chat)
    return Seeded(tenant, project, threads, chat)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def seeded(database, tenant) -> Seeded:
    return seed(database.url, tenant)


@pytest.fixture
def alma_cli(runner, database):
    """Run `alma ARGS...` in-process against the session database; returns the result."""

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, ["--url", database.url, *args], input=input)

    return invoke
