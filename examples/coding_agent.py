"""A coding agent that learns which debugging strategies work: the prebuilt nodes
`initializer -> rank_strategies -> work -> learn` over ten runs on different failing tests.

The agent lives in the coding domain (`DomainMemoryFactory.get_preset("coding")`: it may
learn about debugging, never about credentials). Each run the initializer retrieves what
it learned into the prompt, the confidence engine ranks three candidate fixes, a
simulated `work` node applies the chosen one (only reading the traceback and fixing the
root cause works; rerunning until green and adding a sleep do not), and `learn` records
the outcome. The first runs explore each strategy in turn, as a new agent must; then the
agent follows its ranking. The narration shows the ranking turn around, an anti-pattern
learned from repeated failures, and the later runs succeeding.

    python examples/coding_agent.py      # embedded server, or ALMA_DATABASE_URL
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from langgraph_alma import nodes
from langgraph_alma.alma import Alma
from langgraph_alma.confidence import ConfidenceEngine
from langgraph_alma.domains import DomainMemoryFactory
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.errors import ScopeViolation
from langgraph_alma.memory.core import AntiPatternWarning

TENANT, PROJECT, AGENT, TASK_TYPE = "examples", "coding-agent", "coder", "debugging"
RERUN = "rerun the test until it passes"
SLEEP = "add a sleep before the assertion"
ROOT_CAUSE = "read the traceback and fix the root cause"
STRATEGIES = [RERUN, SLEEP, ROOT_CAUSE]
EXPLORE = [RERUN, SLEEP, ROOT_CAUSE, RERUN, SLEEP, ROOT_CAUSE]  # runs 1-6: each tried twice
TASKS = [
    "test_checkout fails on CI with a KeyError in the cart total",
    "test_login fails after the session refactor",
    "test_export is flaky on the nightly build",
    "test_invoice_pdf fails with a UnicodeDecodeError",
    "test_search fails when the index is empty",
    "test_signup fails on the email validation step",
    "test_refund fails with a rounding error in the amount",
    "test_webhook fails with a timeout on retries",
    "test_report fails when the date range spans a year",
    "test_cart fails after the price service upgrade",
]


class CodingState(TypedDict, total=False):
    task: str
    memories: str  # what the initializer retrieved, as prompt text
    strategies: list[str]
    ranked: list[dict[str, Any]]  # the confidence engine's ranking, best first
    strategy: str
    success: bool
    error: str
    outcome: str


def work(state: CodingState, explore: str | None = None) -> dict[str, Any]:
    """Apply a fix, deterministically: only the root-cause fix makes the test pass."""
    strategy = explore or state["strategy"]
    if strategy == ROOT_CAUSE:
        return {"strategy": strategy, "success": True}
    return {"strategy": strategy, "success": False, "error": "the test still fails on CI"}


def build_graph(alma: Alma, explore: list[str]) -> StateGraph:
    """initializer -> rank_strategies -> work -> learn; `explore` lists the strategies the
    first runs try whatever the ranking says (consumed one a run)."""
    builder = StateGraph(CodingState)
    builder.add_node("init", nodes.initializer(alma, AGENT))
    builder.add_node("rank", nodes.rank_strategies(ConfidenceEngine(alma), AGENT))
    builder.add_node("work", lambda s: work(s, explore.pop(0) if explore else None))
    builder.add_node("learn", nodes.learn(alma, AGENT, task_type=TASK_TYPE))
    builder.add_edge(START, "init")
    builder.add_edge("init", "rank")
    builder.add_edge("rank", "work")
    builder.add_edge("work", "learn")
    builder.add_edge("learn", END)
    return builder


def main(url: str | None = None) -> dict[str, Any]:
    """Run the agent on every task; `url` is a migrated database's application-role URL
    (None: `ALMA_DATABASE_URL` or the embedded server, migrated here). Returns each run's
    ranking, choice and result, and the anti-patterns and prompt learned by the end."""
    project = f"{PROJECT}-{uuid.uuid4().hex[:8]}"  # each run of the example starts afresh
    runs: list[dict[str, Any]] = []
    with Alma.connect(
        url,
        TENANT,
        project,
        embeddings=HashingEmbeddings(256),
        setup=url is None,  # an application-role URL may not migrate: its admin did
        domain=DomainMemoryFactory.get_preset("coding"),
    ) as alma:
        graph = build_graph(alma, list(EXPLORE)).compile(checkpointer=alma.saver)
        print(f"Coding agent {AGENT!r} in project {project!r}; candidates: {STRATEGIES}")
        for n, task in enumerate(TASKS, start=1):
            # No workflow_id: `learn` then records one outcome of the strategy used.
            config = {"configurable": {"thread_id": f"{project}-{n}", "agent": AGENT}}
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always", AntiPatternWarning)  # narrate, don't log
                out = graph.invoke({"task": task, "strategies": STRATEGIES}, config)
            mode = "explores" if n <= len(EXPLORE) else "follows the ranking"
            ranking = ", ".join(f"{r['strategy']} {r['score']:.2f}" for r in out["ranked"])
            print(f"run {n:>2} {task!r}\n   ranking: {ranking}")
            print(f"   {mode}: {out['strategy']!r} -> {out['outcome']}")
            for warning in warned:
                print(f"   warning: {warning.message}")
            runs.append(
                {
                    "task": task,
                    "ranked": [r["strategy"] for r in out["ranked"]],
                    "chosen": out["strategy"],
                    "success": out["success"],
                    "memories": out.get("memories", ""),
                }
            )
        try:  # the domain, not just the agent's habits, bounds what it learns
            alma.learn(AGENT, "rotate the CI token", "success", "paste it", task_type="credentials")
            refused = ""
        except ScopeViolation as exc:
            refused = str(exc)
            print(f"The coding domain refuses to learn about credentials: {exc}")
        found = alma.retrieve("test_payment fails on CI", AGENT)
        anti = [(a.pattern, a.better_alternative) for a in found.anti_patterns]
        print(f"Anti-patterns learned: {anti}")
        prompt = found.to_prompt()
        print(
            "What the next run's initializer puts in the prompt:\n  " + prompt.replace("\n", "\n  ")
        )
    return {"runs": runs, "anti_patterns": anti, "prompt": prompt, "refused": refused}


if __name__ == "__main__":
    main()
