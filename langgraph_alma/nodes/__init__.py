"""Prebuilt LangGraph nodes: put `initializer` first, `rank_strategies` where a choice is
made, `learn` and `handoff` last. Each factory returns a node (a `RunnableLambda` with a
sync and an async face, also callable as `node(state, config)`) for `StateGraph.add_node`,
built on an `Alma` / `AsyncAlma` or on nothing: then it uses the store the graph runs with
and the run's `configurable` tenant, project and agent. May import the facade, the
orchestration and the services; nothing imports it back.

>>> builder.add_node("init", nodes.initializer(alma, agent="helena"))      # doctest: +SKIP
>>> builder.add_node("learn", nodes.learn())                               # doctest: +SKIP
"""

from langgraph_alma.nodes.handoff import handoff
from langgraph_alma.nodes.initializer import initializer
from langgraph_alma.nodes.learn import learn
from langgraph_alma.nodes.rank import rank_strategies

__all__ = ["handoff", "initializer", "learn", "rank_strategies"]
