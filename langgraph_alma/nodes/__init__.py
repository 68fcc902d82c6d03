"""Prebuilt LangGraph nodes on the `Alma` facade: put `initializer` first, `rank_strategies`
where a choice is made, `learn` last. Each factory returns a node function for
`StateGraph.add_node`. May import the facade and the services; nothing imports it back.

>>> builder.add_node("init", nodes.initializer(alma, agent="helena"))      # doctest: +SKIP
"""

from langgraph_alma.nodes.handoff import handoff
from langgraph_alma.nodes.initializer import initializer
from langgraph_alma.nodes.learn import learn
from langgraph_alma.nodes.rank import rank_strategies

__all__ = ["handoff", "initializer", "learn", "rank_strategies"]
