"""Held-out retrieval benchmark: long multi-session conversations (LoCoMo or LongMemEval).

    python bench/heldout_bench.py --data locomo10.json
    python bench/heldout_bench.py --data longmemeval_s.json --limit 100

Every turn of a conversation is stored as one item under `("conv", <conversation>)`; every
question is a `search` of that namespace; the score is recall@5 (and @10): the share of the
question's evidence turns among the first results, averaged over the questions that name
evidence. Setups: full text alone (`AlmaStore.from_conn_string()` without an index, as a
user gets it), and hybrid with the offline default embedder (`hashing:256`, the interfaces'
default), each with the `english` configuration (the default) and `simple`.

The data is not shipped: no package on PyPI bundles LoCoMo or LongMemEval (the harnesses
that run them download the files from their authors' repositories at run time), so give
the file you have. Both published formats are read:

- LoCoMo (`locomo10.json`): a list of samples, each with `conversation` (`session_N`
  lists of turns with `dia_id` and `text`) and `qa` (`question`, `evidence`: dia_ids).
- LongMemEval (`longmemeval_*.json`): a list of questions, each with its own
  `haystack_sessions` (lists of `{role, content, has_answer}`); evidence turns are those
  with `has_answer`.

The issue's target (issue 12): recall@5 >= 0.55 hybrid with the defaults, >= 0.50 full
text alone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore
from langgraph_alma.embeddings import HashingEmbeddings

sys.path.insert(0, str(Path(__file__).parent))  # bench/: the shared scratch database
from _scratch import scratch_database  # noqa: E402


@dataclass
class Conversation:
    """One namespace's turns (key -> text) and its questions (text, evidence keys)."""

    name: str
    turns: dict[str, str] = field(default_factory=dict)
    questions: list[tuple[str, list[str]]] = field(default_factory=list)


def _key(turn_id: str) -> str:
    return turn_id.replace(":", "_").replace(" ", "")


def load(path: Path) -> list[Conversation]:
    """The conversations of a LoCoMo or LongMemEval file."""
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty JSON list")
    if "conversation" in data[0]:
        return [_locomo(i, sample) for i, sample in enumerate(data)]
    if "haystack_sessions" in data[0]:
        return [_longmemeval(i, q) for i, q in enumerate(data)]
    raise ValueError(f"{path}: neither LoCoMo ('conversation') nor LongMemEval format")


def _locomo(i: int, sample: dict[str, Any]) -> Conversation:
    conv = Conversation(str(sample.get("sample_id", f"c{i}")))
    sessions = sample["conversation"]
    for name, turns in sessions.items():
        if not (name.startswith("session_") and isinstance(turns, list)):
            continue
        for turn in turns:
            text = turn.get("text", "")
            if turn.get("blip_caption"):  # a shared photo: its caption is what it says
                text = f"{text} {turn['blip_caption']}"
            conv.turns[_key(turn["dia_id"])] = f"{turn.get('speaker', '')}: {text}"
    for qa in sample.get("qa", []):
        # a few evidence entries list several turns in one string ("D8:6; D9:17")
        ids = [part for e in qa.get("evidence", []) for part in re.split(r"[;,]", e)]
        evidence = [_key(e) for e in ids if _key(e) in conv.turns]
        if evidence:
            conv.questions.append((qa["question"], evidence))
    return conv


def _longmemeval(i: int, q: dict[str, Any]) -> Conversation:
    conv = Conversation(str(q.get("question_id", f"q{i}")))
    evidence = []
    for s, session in enumerate(q["haystack_sessions"]):
        for t, turn in enumerate(session):
            key = f"s{s}_t{t}"
            conv.turns[key] = f"{turn.get('role', '')}: {turn.get('content', '')}"
            if turn.get("has_answer"):
                evidence.append(key)
    if evidence:
        conv.questions.append((q["question"], evidence))
    return conv


def evaluate(store: AlmaStore, convs: list[Conversation]) -> dict[str, float]:
    """Mean recall@5 and @10 of the evidence turns, over the questions."""
    recalls: dict[int, list[float]] = {5: [], 10: []}
    for conv in convs:
        for question, evidence in conv.questions:
            found = [i.key for i in store.search(("conv", conv.name), query=question, limit=10)]
            for k in recalls:
                recalls[k].append(len(set(found[:k]) & set(evidence)) / len(evidence))
    return {f"recall@{k}": round(sum(v) / max(len(v), 1), 3) for k, v in recalls.items()}


def puts(convs: list[Conversation]) -> list[PutOp]:
    return [
        PutOp(("conv", conv.name), key, {"text": text})
        for conv in convs
        for key, text in conv.turns.items()
    ]


def run(url: str, convs: list[Conversation], configs: tuple[str, ...]) -> dict[str, Any]:
    """Every setup's figures on the database at `url` (migrated)."""
    ops = puts(convs)
    report: dict[str, Any] = {
        "conversations": len(convs),
        "turns": len(ops),
        "questions": sum(len(c.questions) for c in convs),
    }
    for config in configs:
        tenant = f"heldout-{config}-{uuid.uuid4().hex[:6]}"
        with AlmaStore.from_conn_string(url, tenant_id=tenant, text_config=config) as store:
            for i in range(0, len(ops), 500):
                store.batch(ops[i : i + 500])
            report[f"full text, {config}"] = evaluate(store, convs)
        index = {"dims": 256, "embed": HashingEmbeddings(256), "fields": ["text"]}
        tenant = f"heldout-{config}-h-{uuid.uuid4().hex[:6]}"
        with AlmaStore.from_conn_string(
            url, tenant_id=tenant, index=index, text_config=config
        ) as store:
            for i in range(0, len(ops), 500):
                store.batch(ops[i : i + 500])
            report[f"hybrid hashing:256, {config}"] = evaluate(store, convs)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="LoCoMo/LongMemEval JSON")
    parser.add_argument("--limit", type=int, help="first N conversations only")
    parser.add_argument("--configs", nargs="*", default=["english", "simple"])
    parser.add_argument("--admin-url", help="superuser URL; default: a temp embedded server")
    args = parser.parse_args()
    convs = load(args.data)[: args.limit]

    with scratch_database(args.admin_url, "alma_heldout") as url:
        report = run(url, convs, tuple(args.configs))
    print(json.dumps(report))
    print(f"\n{'setup':36} {'R@5':>6} {'R@10':>6}")
    for key, m in report.items():
        if isinstance(m, dict):
            print(f"{key:36} {m['recall@5']:>6} {m['recall@10']:>6}")


if __name__ == "__main__":
    main()
