"""A research workflow: a plan fans out to parallel research branches (`Send`), whose
outputs meet in state channels with langgraph-alma's reducers, checkpointed by AlmaSaver.

- The state's channels are reducers (`Annotated[..., reducers.append]`, `merge_dict`,
  `sum`, `max`, `first_value`): each branch writes its piece, LangGraph folds them.
- The run stops before `synthesize` (`interrupt_before`, as for a reviewer); a new saver,
  as a new process would, resumes it from its checkpoint in PostgreSQL without running
  any branch again.
- `Alma.merge_states` folds the branches' own outputs, read back from the checkpoint
  history, with the same reducers outside the graph: the result equals the graph's.
- At the end the run is learned (`learn_from_workflow`) and its report linked to the
  outcome (`link_artifact`); a second question's branches recall that run
  (`RetrievalScope.WORKFLOW`).

    python examples/research_workflow.py     # embedded server, or ALMA_DATABASE_URL
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from langgraph_alma import AlmaSaver, reducers
from langgraph_alma.alma import Alma
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.reducers import ReducerConfig
from langgraph_alma.workflow import RetrievalScope, WorkflowContext

TENANT, PROJECT, WORKFLOW, AGENT = "examples", "research", "queue-research", "researcher"
QUESTIONS = [
    "Should the job queue move from Redis to PostgreSQL?",
    "Should session storage move from Redis to PostgreSQL?",
]
# What each branch "finds": (finding, sources, confidence), deterministic.
LIBRARY = {
    "throughput": (
        "SKIP LOCKED queues sustain thousands of jobs per second on one node",
        ["pg-docs/select-for-update", "bench/queue-2024"],
        0.8,
    ),
    "operations": (
        "one database to back up and monitor instead of two",
        ["ops-handbook/backups"],
        0.9,
    ),
    "cost": (
        "dropping the Redis cluster saves one managed service",
        ["billing/2025-q3", "vendor/pricing"],
        0.6,
    ),
}
# The channels' reducers by name: for `merge_states`, the same as the annotations below.
JOIN = ReducerConfig(
    field_reducers={
        "findings": "append",
        "sources": "merge_dict",
        "sources_read": "sum",
        "best_confidence": "max",
        "recalled": "sum",
    }
)


class ResearchState(TypedDict, total=False):
    question: Annotated[str, reducers.first_value]  # set once, never overwritten
    topics: list[str]
    findings: Annotated[list[str], reducers.append]
    sources: Annotated[dict[str, list[str]], reducers.merge_dict]
    sources_read: Annotated[int, reducers.sum]
    best_confidence: Annotated[float, reducers.max]
    recalled: Annotated[int, reducers.sum]  # memories the branches recalled
    report: str


class Branch(TypedDict):
    question: str
    topic: str


def build_graph(alma: Alma, researched: list[str]) -> StateGraph:
    """plan -> research x N (parallel) -> synthesize; `researched` logs each branch run."""

    def plan(state: ResearchState) -> dict[str, Any]:
        return {"topics": sorted(LIBRARY)}

    def fan_out(state: ResearchState) -> list[Send]:
        return [
            Send("research", {"question": state["question"], "topic": t}) for t in state["topics"]
        ]

    def research(branch: Branch, config: RunnableConfig) -> dict[str, Any]:
        researched.append(branch["topic"])
        # What earlier runs of this workflow taught, for this topic.
        found = alma.retrieve(
            f"{branch['topic']} {branch['question']}",
            AGENT,
            context=WorkflowContext.from_config(config),
            scope=RetrievalScope.WORKFLOW,
            include_workflow_outcomes=True,
        )
        finding, sources, confidence = LIBRARY[branch["topic"]]
        return {
            "findings": [f"{branch['topic']}: {finding}"],
            "sources": {branch["topic"]: sources},
            "sources_read": len(sources),
            "best_confidence": confidence,
            "recalled": found.total_items,
        }

    def synthesize(state: ResearchState) -> dict[str, Any]:
        lines = "\n".join(f"- {f}" for f in state["findings"])
        return {"report": f"{state['question']}\n{lines}\n({state['sources_read']} sources)"}

    builder = StateGraph(ResearchState)
    builder.add_node("plan", plan)
    builder.add_node("research", research)
    builder.add_node("synthesize", synthesize)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", fan_out, ["research"])
    builder.add_edge("research", "synthesize")
    builder.add_edge("synthesize", END)
    return builder


def run_question(alma: Alma, url: str | None, question: str) -> dict[str, Any]:
    """One run: stop before synthesize, resume on a new saver, merge, learn, link."""
    ctx = WorkflowContext(tenant_id=TENANT, workflow_id=WORKFLOW, run_id=uuid.uuid4().hex[:12])
    config = ctx.to_config(agent=AGENT)
    researched: list[str] = []
    builder = build_graph(alma, researched)
    graph = builder.compile(checkpointer=alma.saver, interrupt_before=["synthesize"])
    paused = graph.invoke({"question": question}, config)
    snapshot = graph.get_state(config)
    print(f"run {ctx.run_id}: {question!r}")
    print(f"  branches ran in parallel: {sorted(researched)}; paused before {snapshot.next}")

    with AlmaSaver.from_conn_string(url, tenant_id=TENANT) as fresh:  # as a new process would
        resumed = builder.compile(checkpointer=fresh, interrupt_before=["synthesize"])
        final = resumed.invoke(None, config)
        history = list(resumed.get_state_history(config))
    print(f"  resumed on a new saver: branches run in all: {len(researched)}")
    print("  report:\n    " + final["report"].replace("\n", "\n    "))

    # The fan-out step's tasks, read back from the checkpoints, hold each branch's output.
    fan_out_step = next(s for s in history if s.next and set(s.next) == {"research"})
    branch_outputs = [t.result for t in fan_out_step.tasks]
    merged = alma.merge_states(ctx, branch_outputs, JOIN)
    same = all(final[field] == value for field, value in merged.items())
    print(f"  merge_states over {len(branch_outputs)} branch outputs equals the graph's: {same}")

    outcome = alma.learn_from_workflow(
        ctx,
        {
            "result": "success",
            "summary": f"researched: {question}",
            "successful_patterns": ["research topics in parallel branches"],
            "node_count": len(LIBRARY) + 2,  # plan, the branches, synthesize
        },
        cleanup_checkpoints=False,  # keep the graph's history: it is the audit trail
        agent=AGENT,
    )
    alma.link_artifact(
        outcome.id, "report", f"file:///reports/{ctx.run_id}.md", mime_type="text/markdown"
    )
    artifacts = [a.storage_url for a in alma.get_artifacts(outcome.id)]
    print(f"  learned outcome {outcome.id}; artifacts {artifacts}")
    print(f"  memories the branches recalled from earlier runs: {final['recalled']}")
    return {
        "paused_before": list(snapshot.next),
        "paused_findings": len(paused.get("findings", [])),
        "researched": researched,
        "final": final,
        "merged": merged,
        "merge_equals_graph": same,
        "artifacts": artifacts,
    }


def main(url: str | None = None) -> list[dict[str, Any]]:
    """Run the workflow on each question; `url` is a migrated database's application-role
    URL (None: `ALMA_DATABASE_URL` or the embedded server, migrated here). Returns what
    each run saw."""
    project = f"{PROJECT}-{uuid.uuid4().hex[:8]}"  # each run of the example starts afresh
    with Alma.connect(
        url, TENANT, project, embeddings=HashingEmbeddings(256), setup=url is None
    ) as alma:
        return [run_question(alma, url, q) for q in QUESTIONS]


if __name__ == "__main__":
    main()
