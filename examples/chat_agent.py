"""A chat agent with long-term memory: what a user says in one conversation shapes the
agent's replies in the next.

Short-term memory is the thread: a LangGraph chat graph checkpointed by `AlmaSaver`.
Long-term memory is ALMA's: after each turn the agent extracts memories from what the
user said (`learn_from_conversation`: offline rules, or OpenAI with a key) into
`AlmaStore`, and before each reply it retrieves what is relevant into the prompt.

In thread 1 Ana asks a question and gets a generic, long answer; then she says she prefers
concise answers and that her project uses PostgreSQL. In a new thread, with no messages
of its own, the same question gets a short answer built on PostgreSQL. Bob asks it too:
the agent's knowledge of the project is shared, Ana's preference is hers, so his answer
mentions PostgreSQL but is long.

    python examples/chat_agent.py       # embedded server, or ALMA_DATABASE_URL

The chat model is `ScriptedChatModel` (offline, answers from its prompt) unless an OpenAI
key is set and `langchain_openai` is installed.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from _scripted_model import chat_model
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from langgraph_alma.alma import Alma
from langgraph_alma.embeddings import HashingEmbeddings

TENANT, PROJECT, AGENT = "examples", "chat-agent", "assistant"
QUESTION = "Which database should I use for the job queue?"


class ChatState(MessagesState):
    user_id: str
    memories: str  # the prompt text retrieved for the last turn


class Observed(TypedDict):
    before: str  # the answer to QUESTION in thread 1, before Ana told the agent anything
    learned: list[str]  # what the agent extracted and stored from thread 1
    thread_1_messages: int  # messages thread 1 holds (short-term memory)
    after: str  # the answer to QUESTION for Ana in a new thread
    after_prompt: str  # the memories that answer was given
    after_messages: int  # messages the new thread holds
    bob: str  # the answer to QUESTION for Bob


def build_graph(alma: Alma, model: Any) -> StateGraph:
    """The chat graph: `recall` retrieves the user's memories for the last message,
    `respond` asks the model with them in a system message, `remember` extracts memories
    from what the user just said.

    >>> graph = build_graph(alma, chat_model()).compile(checkpointer=alma.saver)  # doctest: +SKIP
    """

    def last_said(state: ChatState) -> HumanMessage:
        return next(m for m in reversed(state["messages"]) if isinstance(m, HumanMessage))

    def recall(state: ChatState) -> dict[str, Any]:
        found = alma.retrieve(last_said(state).text, AGENT, user_id=state["user_id"])
        return {"memories": found.to_prompt(max_tokens=500)}

    def respond(state: ChatState) -> dict[str, Any]:
        # The memories go to the model, not into the thread: they are re-read every turn.
        system = SystemMessage(f"You are a helpful assistant. What you know:\n{state['memories']}")
        return {"messages": [model.invoke([system, *state["messages"]])]}

    def remember(state: ChatState) -> dict[str, Any]:
        alma.learn_from_conversation([last_said(state)], AGENT, user_id=state["user_id"])
        return {}

    builder = StateGraph(ChatState)
    builder.add_node("recall", recall)
    builder.add_node("respond", respond)
    builder.add_node("remember", remember)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "respond")
    builder.add_edge("respond", "remember")
    builder.add_edge("remember", END)
    return builder


def main(url: str | None = None) -> Observed:
    """Run the conversations; `url` is a migrated database's application-role URL (None:
    `ALMA_DATABASE_URL` or the embedded server, migrated here). Returns what it saw."""
    run = uuid.uuid4().hex[:8]
    project = f"{PROJECT}-{run}"  # a project of its own: each run starts knowing nothing
    # An explicit URL is the application role's, which may not migrate: its admin did.
    with Alma.connect(
        url, TENANT, project, embeddings=HashingEmbeddings(256), setup=url is None
    ) as alma:
        graph = build_graph(alma, chat_model()).compile(checkpointer=alma.saver, store=alma.store)

        def say(thread: str, user: str, text: str) -> dict[str, Any]:
            config = {"configurable": {"thread_id": f"{thread}-{run}", "agent": AGENT}}
            out = graph.invoke({"messages": [HumanMessage(text)], "user_id": user}, config)
            print(f"  {user}: {text}\n  agent: {out['messages'][-1].text}")
            return out

        print(f"Thread 1 (tenant {TENANT!r}, project {project!r}): Ana.")
        before = say("ana-1", "ana", QUESTION)["messages"][-1].text
        say("ana-1", "ana", "I prefer concise answers.")
        thread_1 = say("ana-1", "ana", "My project uses PostgreSQL.")
        stored = alma.retrieve("my project database answers", AGENT, user_id="ana")
        learned = [p.preference for p in stored.preferences]
        learned += [k.fact for k in stored.domain_knowledge]
        print(f"Long-term memory now holds: {learned}")

        print("Thread 2, new and empty: Ana asks again.")
        after = say("ana-2", "ana", QUESTION)
        print(f"  (the thread holds {len(after['messages'])} messages; recalled:)")
        print("    " + after["memories"].replace("\n", "\n    "))

        print("Thread 3: Bob asks the same (shared knowledge, but not Ana's preference).")
        bob = say("bob-1", "bob", QUESTION)["messages"][-1].text
    return {
        "before": before,
        "learned": learned,
        "thread_1_messages": len(thread_1["messages"]),
        "after": after["messages"][-1].text,
        "after_prompt": after["memories"],
        "after_messages": len(after["messages"]),
        "bob": bob,
    }


if __name__ == "__main__":
    main()
