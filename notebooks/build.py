"""Writes the domain notebooks (coding, research, sales) from one template.

This script is the source of truth: the `.ipynb` files are generated from it, without
outputs, and `tests/notebooks` fails when a committed notebook differs from what it
generates. Each notebook runs an agent of its domain preset through a sequence of
simulated tasks (the LangGraph nodes initializer -> rank_strategies -> work -> learn on
`Alma`), with a shift of task halfway, and plots how the confidence engine's scores and
the success rate change over the runs.

    python notebooks/build.py            # (re)write notebooks/*.ipynb
    python notebooks/build.py --check    # exit 1 if a notebook is stale
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    """What differs between the notebooks: the domain, its story and its simulated world
    (`world` is the source of the cell defining AGENT, CATEGORY, STRATEGIES, CONTEXTS,
    SUBJECTS and SEED)."""

    domain: str
    title: str
    story: str
    world: str


CODING = Scenario(
    domain="coding",
    title="A coding agent learns how to debug",
    story=(
        "Helena, a coding agent, is handed one failing build after another. For the first "
        "half of the runs they are **flaky tests**, which isolating the tests' shared state "
        "fixes; then a dependency upgrade lands and the failures become **regressions**, "
        "which bisecting the upgrade finds. Her habit, rerunning the suite until it passes, "
        "rarely helps."
    ),
    world="""\
AGENT, CATEGORY = "helena", "debugging"
STRATEGIES = [  # the first is the habit: what the agent does when it knows nothing
    "rerun the suite until it passes",
    "add logging and reproduce locally",
    "isolate the shared test state",
    "bisect the dependency upgrade",
]
CONTEXTS = [  # p_success: the chance each strategy works, hidden from the agent
    {
        "label": "flaky tests",
        "task": "flaky {} test fails intermittently on CI",
        "p_success": [0.25, 0.5, 0.85, 0.3],
    },
    {
        "label": "regressions after an upgrade",
        "task": "{} module broken since the dependency upgrade",
        "p_success": [0.15, 0.45, 0.1, 0.9],
    },
]
SUBJECTS = ["checkout", "login", "search", "cart", "invoice", "profile"]
SEED = 7  # of the runs' tasks and luck
""",
)

RESEARCH = Scenario(
    domain="research",
    title="A research agent learns where to look",
    story=(
        "Ada, a research agent, is asked one literature question after another. First she "
        "**surveys methods** of a field, where following the citations of a recent survey "
        "works best; halfway the questions turn to **finding benchmark results**, where "
        "leaderboards answer best. Her habit, a keyword search on a general web engine, "
        "rarely finds what is asked."
    ),
    world="""\
AGENT, CATEGORY = "ada", "search_strategy"
STRATEGIES = [  # the first is the habit: what the agent does when it knows nothing
    "keyword search on a general web engine",
    "browse recent arXiv listings",
    "follow citations from a recent survey",
    "query benchmark leaderboards",
]
CONTEXTS = [  # p_success: the chance each strategy works, hidden from the agent
    {
        "label": "method surveys",
        "task": "survey the main approaches to {} and how they evolved",
        "p_success": [0.3, 0.45, 0.85, 0.25],
    },
    {
        "label": "benchmark results",
        "task": "report state of the art accuracy numbers on {} benchmarks",
        "p_success": [0.25, 0.35, 0.1, 0.9],
    },
]
SUBJECTS = [
    "graph neural networks",
    "speech recognition",
    "protein folding",
    "text retrieval",
    "image segmentation",
    "program synthesis",
]
SEED = 11  # of the runs' tasks and luck
""",
)

SALES = Scenario(
    domain="sales",
    title="A sales agent learns how to answer objections",
    story=(
        "Sam, a sales agent, answers one buyer objection after another. At first the "
        "buyers say **the price is too high**, and an ROI case study convinces them best; "
        "halfway a competitor's outage makes buyers **afraid of migrating**, and a paid "
        "pilot wins them over. Sam's habit, offering a discount, seldom closes."
    ),
    world="""\
AGENT, CATEGORY = "sam", "objection_handling"
STRATEGIES = [  # the first is the habit: what the agent does when it knows nothing
    "offer a discount",
    "send an ROI case study",
    "propose a paid pilot",
    "arrange a reference call",
]
CONTEXTS = [  # p_success: the chance each strategy works, hidden from the agent
    {
        "label": "price objections",
        "task": "{} says our price is too high for their budget",
        "p_success": [0.35, 0.85, 0.4, 0.3],
    },
    {
        "label": "migration worries",
        "task": "{} fears migrating away from their incumbent vendor",
        "p_success": [0.15, 0.1, 0.9, 0.5],
    },
]
SUBJECTS = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Retail"]
SEED = 3  # of the runs' tasks and luck
""",
)

SCENARIOS = {s.domain: s for s in (CODING, RESEARCH, SALES)}


def md(text: str) -> tuple[str, str]:
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str) -> tuple[str, str]:
    return ("code", textwrap.dedent(text).strip())


def cells(s: Scenario) -> list[tuple[str, str]]:
    """The notebook as (kind, source) pairs: the shared template around the scenario."""
    return [
        md(f"""
            # {s.title}

            {s.story}

            No rule tells the agent what to do: it picks a strategy with the confidence
            engine, the simulated world says whether it worked, and ALMA learns from the
            outcome. Over the runs its choices move to the strategies that work, and move
            again when the tasks change.
            """),
        code("""
            %matplotlib inline
            import random
            import uuid
            from typing import Any, TypedDict

            import matplotlib.pyplot as plt
            from IPython.display import JSON, display
            from langgraph.graph import END, START, StateGraph

            from langgraph_alma import nodes
            from langgraph_alma.alma import Alma
            from langgraph_alma.confidence import ConfidenceEngine
            from langgraph_alma.domains import DomainMemoryFactory
            from langgraph_alma.embeddings import HashingEmbeddings
            """),
        md(f"""
            ## The {s.domain} domain

            The `{s.domain}` preset says what the domain's agents may learn (its learning
            categories) and what they must never store; the agent files its outcomes under
            one of those categories.
            """),
        code(f"""
            schema = DomainMemoryFactory.get_preset("{s.domain}")
            print("learning categories:", ", ".join(schema.learning_categories))
            print("never learned:      ", ", ".join(schema.excluded_categories))
            print("outcomes before a heuristic:", schema.min_occurrences_for_heuristic)
            """),
        md(f"""
            ## Connect

            `Alma.connect()` with no URL uses `ALMA_DATABASE_URL` when it is set, and an
            embedded PostgreSQL (in `.alma/pgdata`) otherwise. A fresh tenant per execution
            keeps each run of this notebook apart from the last, so it always starts with an
            agent that knows nothing. `HashingEmbeddings` are offline and deterministic.
            (`DomainMemoryFactory.create_alma({s.domain!r}, ...)` makes the same call.)
            """),
        code(f"""
            TENANT = f"notebook-{s.domain}-{{uuid.uuid4().hex[:8]}}"
            alma = Alma.connect(
                tenant_id=TENANT,
                project_id="notebook",
                domain=schema,
                embeddings=HashingEmbeddings(256),
            )
            print("tenant", TENANT)
            """),
        md("""
            ## The simulated world

            Each strategy has a chance of success that depends on the kind of task; the agent
            never sees these numbers. The first strategy is the agent's habit, what it does
            when nothing it remembers says otherwise.
            """),
        code(s.world),
        md("""
            The runs are seeded: each run's task and its luck (one uniform draw, shared by
            all strategies) are fixed up front, so the notebook tells the same story every
            time and a memoryless agent can be judged on the same draws. The second kind of
            task takes over at `SHIFT_AT`.
            """),
        code('''
            RUNS, SHIFT_AT = 30, 15
            rng = random.Random(SEED)
            WORLD = [
                {
                    "context": context,
                    "task": CONTEXTS[context]["task"].format(rng.choice(SUBJECTS)),
                    "draw": rng.random(),
                }
                for context in [0] * SHIFT_AT + [1] * (RUNS - SHIFT_AT)
            ]


            def succeeds(run: int, strategy: str) -> bool:
                """The world's verdict: does `strategy` work on run `run`?"""
                world = WORLD[run]
                p_success = CONTEXTS[world["context"]]["p_success"]
                return world["draw"] < p_success[STRATEGIES.index(strategy)]


            for context in CONTEXTS:
                chances = dict(zip(STRATEGIES, context["p_success"], strict=True))
                print(f"{context['label']:<30}", chances)
            '''),
        md("""
            ## The agent: a LangGraph graph of prebuilt nodes

            * `initializer` retrieves what the agent learned that fits the task (the prompt
              an LLM would get);
            * `rank_strategies` asks the `ConfidenceEngine` how likely each strategy is to
              work *on this task* (a Beta posterior over similar past outcomes with the
              learned heuristic as prior, less risks such as an untested context) and picks
              the best;
            * `work` is the simulated task;
            * `learn` records the outcome with `alma.learn`, which updates the strategy's
              heuristic (and makes an anti-pattern of repeated failures).
            """),
        code("""
            class RunState(TypedDict, total=False):
                run: int
                task: str
                memories: str
                strategies: list[str]
                ranked: list[dict[str, Any]]
                strategy: str
                success: bool
                outcome: str


            engine = ConfidenceEngine(alma, top_k=40)  # enough evidence to see every past run


            def work(state: RunState) -> dict[str, Any]:
                return {"success": succeeds(state["run"], state["strategy"])}


            builder = StateGraph(RunState)
            builder.add_node("init", nodes.initializer(alma, AGENT))
            builder.add_node("rank", nodes.rank_strategies(engine, AGENT))
            builder.add_node("work", work)
            builder.add_node("learn", nodes.learn(alma, AGENT, task_type=CATEGORY))
            builder.add_edge(START, "init")
            builder.add_edge("init", "rank")
            builder.add_edge("rank", "work")
            builder.add_edge("work", "learn")
            builder.add_edge("learn", END)
            graph = builder.compile()
            """),
        md("""
            ## Run the tasks

            Each run is one `graph.invoke`. The scores the engine gave every strategy before
            the run are kept for the plot.
            """),
        code("""
            history = []
            for run, world in enumerate(WORLD):
                state = graph.invoke({"run": run, "task": world["task"], "strategies": STRATEGIES})
                history.append(
                    {
                        "run": run + 1,
                        "context": world["context"],
                        "strategy": state["strategy"],
                        "success": state["success"],
                        "scores": {r["strategy"]: r["score"] for r in state["ranked"]},
                    }
                )
                mark = "ok  " if state["success"] else "FAIL"
                print(f"{run + 1:>2} {mark} {state['strategy']:<40} {world['task']}")
            """),
        md("What the agent recalled before its last run:"),
        code('print(state["memories"])'),
        md("""
            ## Learning over the runs

            Top: the engine's confidence score for each strategy before each run; the dashed
            line is the shift of task. Bottom: the success rate over the last few runs, for
            the agent and for a memoryless agent that always follows its habit, on the same
            draws.
            """),
        code("""
            WINDOW = 6
            habit = [succeeds(run, STRATEGIES[0]) for run in range(RUNS)]


            def rolling(flags: list[bool]) -> list[float]:
                \"\"\"The success rate of the last WINDOW runs, at each run.\"\"\"
                windows = [flags[max(0, i + 1 - WINDOW) : i + 1] for i in range(RUNS)]
                return [sum(w) / len(w) for w in windows]


            runs = [h["run"] for h in history]
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
            for strategy in STRATEGIES:
                scores = [h["scores"][strategy] for h in history]
                top.plot(runs, scores, marker="o", ms=3, label=strategy)
            top.set_ylabel("confidence score before the run")
            top.set_title(f"{schema.name}: {CONTEXTS[0]['label']}, then {CONTEXTS[1]['label']}")
            agent = rolling([h["success"] for h in history])
            bottom.plot(runs, agent, marker="o", ms=3, label="agent with ALMA")
            bottom.plot(runs, rolling(habit), ls=":", label=f"memoryless: always {STRATEGIES[0]!r}")
            bottom.set_ylabel(f"success rate, last {WINDOW} runs")
            bottom.set_xlabel("run")
            bottom.set_ylim(-0.05, 1.05)
            for ax in (top, bottom):
                ax.axvline(SHIFT_AT + 0.5, color="grey", ls="--")
                ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
            plt.show()
            """),
        md("""
            An untried strategy scores about 0.4: an even chance, less the risk of an
            untested context. So after the shift the agent keeps its old favourite until its
            failures *on the new kind of task* pull its score under that, then tries the
            others. Outcomes of the old kind of task count little there, because the engine
            weights every outcome by how similar its task is to this one.

            ## What it learned

            One heuristic per strategy tried often enough in the category (its confidence is
            the Wilson lower bound of the success rate, so it grows with evidence), and
            anti-patterns from repeated failures. For the last kind of task, the engine
            explains its assessment of the best strategy.
            """),
        code("""
            last_task = WORLD[-1]["task"]
            found = alma.retrieve(last_task, AGENT, top_k=10)
            for h in sorted(found.heuristics, key=lambda h: -h.confidence):
                record = f"{h.success_count}/{h.occurrence_count}"
                print(f"heuristic {h.confidence:.2f} ({record})  {h.strategy}")
            for a in found.anti_patterns:
                print(f"anti-pattern: {a.pattern} ({a.why_bad}); better: {a.better_alternative}")
            best = max(STRATEGIES, key=lambda s: CONTEXTS[1]["p_success"][STRATEGIES.index(s)])
            print()
            print(engine.assess_strategy(best, last_task, AGENT).explanation)
            """),
        md("""
            ## Summary

            The numbers behind the plot, which the notebook tests check: the success rate of
            the first and the last runs, and the agent's successes against the memoryless
            agent's on the same draws.
            """),
        code("""
            def rate(rows: list[dict[str, Any]]) -> float:
                return sum(r["success"] for r in rows) / len(rows)


            FIRST = LAST = 8
            summary = {
                "domain": schema.name,
                "runs": RUNS,
                "shift_at": SHIFT_AT,
                "first_runs_success": rate(history[:FIRST]),
                "last_runs_success": rate(history[-LAST:]),
                "agent_successes": sum(h["success"] for h in history),
                "memoryless_successes": sum(habit),
                "best_after_shift": best,
                "last_choices": [h["strategy"] for h in history[-LAST:]],
                "heuristics": len(found.heuristics),
            }
            alma.close()
            print(
                f"success {summary['first_runs_success']:.0%} in the first {FIRST} runs, "
                f"{summary['last_runs_success']:.0%} in the last {LAST}; "
                f"{summary['agent_successes']} of {RUNS} successes against "
                f"{summary['memoryless_successes']} for the memoryless habit"
            )
            display(JSON(summary))
            """),
    ]


def notebook(s: Scenario) -> NotebookNode:
    """The notebook of one scenario, without outputs; cell ids are stable so a rebuild
    changes nothing unless the source did."""
    nb = new_notebook(
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        }
    )
    for i, (kind, source) in enumerate(cells(s)):
        make = new_markdown_cell if kind == "markdown" else new_code_cell
        nb.cells.append(make(source, id=f"{s.domain}-{i:02d}"))
    nbformat.validate(nb)
    return nb


def render(domain: str) -> str:
    """The text of `notebooks/<domain>.ipynb` (as `nbformat.write` would write it)."""
    text = nbformat.writes(notebook(SCENARIOS[domain]))
    return text if text.endswith("\n") else text + "\n"


def path_of(domain: str) -> Path:
    return HERE / f"{domain}.ipynb"


def stale() -> list[str]:
    """The domains whose notebook file differs from what this script generates."""
    return [
        d
        for d in SCENARIOS
        if not path_of(d).exists() or path_of(d).read_text(encoding="utf-8") != render(d)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook is stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for d in old:
            print(f"{path_of(d)} is stale: run python notebooks/build.py", file=sys.stderr)
        return 1 if old else 0
    for d in SCENARIOS:
        path_of(d).write_text(render(d), encoding="utf-8")
        print(f"wrote {path_of(d)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
