"""Retrieval quality of AlmaStore search on a deterministic labelled corpus.

    python bench/retrieval_bench.py                 # 60 conversations, embedded server
    python bench/retrieval_bench.py --users 200     # more
    python bench/retrieval_bench.py --weights 0.3 0.5 0.7   # sweep the text weight
    python bench/retrieval_bench.py --lead-weights 0 0.5 0.9 --vector-leads 0.2 0.3
                                                    # sweep the adaptive lead lift
    python bench/retrieval_bench.py --seed 11       # the generator's tuning corpora:
    python bench/retrieval_bench.py --users 100 --seed 23   # defaults are chosen here first
    python bench/retrieval_bench.py --replay --weights 0.5 0.7 0.9   # sweeps in seconds

Each simulated user has a conversation of ~50 turns (user and assistant) stored one turn
per item under `("conv", user)`. A few user turns state facts ("I finally adopted a beagle
and named it Biscuit"); the assistant echoes their words in later turns and chit-chat
shares the common ones, so lexical matching has distractors. Each fact gets a question
that paraphrases it ("What did I call my new puppy?"; half the time the question keeps
the statement's word instead: "...my new beagle?"); its answer is the fact's turn.
Reported per setup: recall@1/5/10 and MRR of that turn among `search(("conv", user),
query=question)` results. Setups: full text alone (`english`, stemming and stop words;
`simple`, neither), vector alone (`text_weight=0`), and fused (the default weights:
`text_weight` 0.7, `text_lead_weight` 0.9, `vector_lead` 0.3), with
two embedders: `hashing:256` (the offline default, lexical overlap only: weak) and
`concept` (the same hashing after folding the generator's synonyms into one concept: a
stand-in for a semantic model, strong). A regression guard, not a target.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore
from langgraph_alma.config import get_settings
from langgraph_alma.embeddings import HashingEmbeddings

sys.path.insert(0, str(Path(__file__).parent))  # bench/: the shared scratch database
from _scratch import scratch_database  # noqa: E402

# Each fact: a statement, a question that paraphrases it, and the slots both use. A slot
# value is (word in the statement, word in the question): the question rarely repeats it.
FACTS: list[dict[str, Any]] = [
    {
        "say": "I finally adopted a {animal} and named it {name}.",
        "ask": "What did I call my new {animal_q}?",
        "slots": {
            "animal": [("beagle", "puppy"), ("kitten", "cat"), ("parrot", "bird")],
            "name": [("Biscuit", None), ("Mochi", None), ("Pepper", None)],
        },
    },
    {
        "say": "My {relative} just moved to {city} for a new job.",
        "ask": "Which city does my {relative_q} live in these days?",
        "slots": {
            "relative": [("sister", "sibling"), ("brother", "sibling"), ("aunt", "relative")],
            "city": [("Lisbon", None), ("Osaka", None), ("Denver", None)],
        },
    },
    {
        "say": "I have been practising the {instrument} every evening after dinner.",
        "ask": "Which musical {instrument_q} am I learning to play?",
        "slots": {
            "instrument": [
                ("cello", "instrument"),
                ("violin", "instrument"),
                ("trumpet", "instrument"),
            ]
        },
    },
    {
        "say": "I work as a {job} at a small firm downtown.",
        "ask": "What is my {job_q}?",
        "slots": {
            "job": [
                ("nurse", "occupation"),
                ("carpenter", "occupation"),
                ("accountant", "profession"),
            ]
        },
    },
    {
        "say": "Next month we are flying to {country} for our vacation.",
        "ask": "Where am I travelling for the upcoming {trip_q}?",
        "slots": {
            "country": [("Peru", None), ("Norway", None), ("Vietnam", None)],
            "trip": [("vacation", "holiday")],
        },
    },
    {
        "say": "I am allergic to {food}, so I always check the menu.",
        "ask": "Which {food_q} gives me an allergic reaction?",
        "slots": {"food": [("peanuts", "food"), ("shellfish", "food"), ("gluten", "ingredient")]},
    },
    {
        "say": "I bought a used {brand} hatchback last week.",
        "ask": "What kind of {car_q} did I purchase recently?",
        "slots": {
            "brand": [("Toyota", None), ("Honda", None), ("Volvo", None)],
            "car": [("hatchback", "automobile")],
        },
    },
    {
        "say": "My daughter turns {age} on {month} the {day}.",
        "ask": "When is my {kid_q}'s birthday?",
        "slots": {
            "age": [("seven", None), ("nine", None)],
            "month": [("March", None), ("July", None), ("October", None)],
            "day": [("fourth", None), ("twelfth", None)],
            "kid": [("daughter", "kid")],
        },
    },
]
# The "meaning" a semantic model would give: each question word and its statement word
# fold to one concept (and common paraphrases with them).
CONCEPTS = {
    "puppy": "dog",
    "beagle": "dog",
    "kitten": "cat",
    "parrot": "bird",
    "sibling": "sibling",
    "sister": "sibling",
    "brother": "sibling",
    "aunt": "relative",
    "instrument": "instrument",
    "cello": "instrument",
    "violin": "instrument",
    "trumpet": "instrument",
    "practising": "learn",
    "learning": "learn",
    "occupation": "job",
    "profession": "job",
    "nurse": "job",
    "carpenter": "job",
    "accountant": "job",
    "work": "job",
    "holiday": "vacation",
    "travelling": "fly",
    "flying": "fly",
    "food": "food",
    "peanuts": "food",
    "shellfish": "food",
    "gluten": "food",
    "ingredient": "food",
    "allergic": "allergy",
    "automobile": "car",
    "hatchback": "car",
    "purchase": "buy",
    "bought": "buy",
    "kid": "child",
    "daughter": "child",
    "birthday": "birthday",
    "turns": "birthday",
    "moved": "live",
    "live": "live",
    "named": "name",
    "call": "name",
}
CHATTER = [
    "What do you think about the weather this week?",
    "I had a long day at work and I am tired.",
    "Can you recommend a good book to read?",
    "We went to the park with the family on Sunday.",
    "I need to plan my week better, any tips?",
    "Thanks, that is really helpful!",
    "What should I cook for dinner tonight?",
    "My new phone keeps running out of battery.",
    "I watched a great movie last night.",
    "How do I stay motivated to exercise?",
    "Our neighbours are renovating their house, so noisy.",
    "I want to learn something new this year.",
]
REPLIES = [
    "That sounds great! Tell me more about the {w}.",
    "Good to know about the {w}. I will remember that.",
    "Interesting, how do you feel about the {w}?",
    "Here are a few ideas related to {w} you might like.",
]
_WORD = re.compile(r"[A-Za-z]+")


class ConceptEmbeddings(Embeddings):
    """Hashing embeddings after folding `CONCEPTS`: a deterministic stand-in for a
    semantic embedder that knows the corpus's paraphrases."""

    def __init__(self, dims: int = 256) -> None:
        self.inner = HashingEmbeddings(dims)

    def _fold(self, text: str) -> str:
        return " ".join(CONCEPTS.get(w.lower(), w.lower()) for w in _WORD.findall(text))

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(self._fold(text))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


def corpus(users: int, seed: int = 5) -> tuple[list[PutOp], list[tuple[str, str, str]]]:
    """(puts, questions as (user, question, answer key))."""
    rng = random.Random(seed)
    puts: list[PutOp] = []
    questions: list[tuple[str, str, str]] = []
    for u in range(users):
        user = f"user{u:04d}"
        turns: list[str] = []
        facts = rng.sample(FACTS, 5)
        answers: list[tuple[int, str]] = []
        for fact in facts:
            chosen = {slot: rng.choice(values) for slot, values in fact["slots"].items()}
            say = fact["say"].format(**{s: v[0] for s, v in chosen.items()})
            # half the time a question keeps the statement's own word
            ask = fact["ask"].format(
                **{f"{s}_q": (v[1] if v[1] and rng.random() < 0.5 else v[0])
                   for s, v in chosen.items()},
                **{s: v[0] for s, v in chosen.items()},
            )  # fmt: skip
            for _ in range(rng.randint(3, 8)):
                turns.append(rng.choice(CHATTER))
                turns.append(rng.choice(REPLIES).format(w=rng.choice(["week", "plan", "idea"])))
            answers.append((len(turns), ask))
            turns.append(say)
            for _ in range(rng.randint(1, 3)):  # the assistant echoes the fact's words
                word = rng.choice([v[0] for v in chosen.values()])
                turns.append(rng.choice(REPLIES).format(w=word))
        for i, text in enumerate(turns):
            role = "user" if i % 2 == 0 or i in {a for a, _ in answers} else "assistant"
            puts.append(PutOp(("conv", user), f"t{i:03d}", {"role": role, "text": text}))
        questions += [(user, ask, f"t{i:03d}") for i, ask in answers]
    return puts, questions


def evaluate(store: AlmaStore, questions: list[tuple[str, str, str]]) -> dict[str, float]:
    ranks: list[int | None] = []
    for user, question, answer in questions:
        found = [i.key for i in store.search(("conv", user), query=question, limit=10)]
        ranks.append(found.index(answer) + 1 if answer in found else None)
    return _metrics(ranks)


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    out = {f"recall@{k}": sum(1 for r in ranks if r and r <= k) / n for k in (1, 5, 10)}
    out["mrr"] = sum(1 / r for r in ranks if r) / n
    return {k: round(v, 3) for k, v in out.items()}


# -- replay: fusion variants in seconds, over every question's candidates ------------
#
# `--replay` reads each question's candidates once (similarity and lexical strength `t`
# of every turn, from a vectors-only search) and orders them again in Python for every
# swept setting, mirroring `_FUSE_HYBRID` in langgraph_alma/store/_search.py (cosine).
# The bench checks that the replay of the defaults gives the statement's own figures, so
# a change to the statement that the mirror misses stops the run. Edit `fuse` to try a
# new fusion on the same candidates, then move what wins into the statement.

Candidate = tuple[str, float, float | None]  # key, similarity, lexical strength


def candidates(store: AlmaStore, questions: list[tuple[str, str, str]]) -> list[Any]:
    """(answer, every turn as a Candidate) per question; the store must have
    `text_weight=0` (scores are then the plain similarities)."""
    return [
        (answer, [(i.key, i.similarity, i.text_score)
                  for i in store.search(("conv", user), query=question, limit=200)])
        for user, question, answer in questions
    ]  # fmt: skip


def fuse(pool: list[Candidate], w: float, lead_weight: float, vector_lead: float) -> list[float]:
    """The statement's fused score of each pooled candidate (see `_search.py`)."""
    ts = sorted((t for _, _, t in pool if t is not None), reverse=True)
    ss = sorted((s for _, s, _ in pool), reverse=True)
    t1 = ts[0] if ts else None
    lex_lead = (t1 - ts[1]) / t1 if t1 and len(ts) > 1 else 1.0
    vec_lead = (
        min(1.0, (ss[0] - ss[1]) / max(1.0 - ss[1], 1e-9) / vector_lead) if len(ss) > 1 else 1.0
    )
    a = (lead_weight if w > 0 else 0.0) * lex_lead * (1.0 - vec_lead)
    return [
        s + (1 - (1 - w * (t or 0)) * (1 - (a * t / t1 if t and t1 else 0))) * (1 - s)
        for _, s, t in pool
    ]


def replay(cands: list[Any], w: float, lead_weight: float, vector_lead: float) -> dict[str, float]:
    """The figures a search with these settings gives (limit 10: a window of 40 per side)."""
    ranks: list[int | None] = []
    for answer, turns in cands:
        by_vec = sorted(turns, key=lambda c: (-c[1], c[0]))[:40]
        by_lex = sorted((c for c in turns if c[2] is not None), key=lambda c: (-c[2], c[0]))[:40]
        lexical = {c[0] for c in by_lex}
        pool = list({c[0]: (c[0], c[1], c[2] if c[0] in lexical else None)
                     for c in by_vec + by_lex}.values())  # fmt: skip
        scores = fuse(pool, w, lead_weight, vector_lead)
        order = sorted(range(len(pool)), key=lambda i: (-scores[i], pool[i][0]))
        found = [pool[i][0] for i in order][:10]
        ranks.append(found.index(answer) + 1 if answer in found else None)
    return _metrics(ranks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5, help="the generator's seed")
    parser.add_argument(
        "--replay", action="store_true", help="sweep by replaying the fusion in Python (fast)"
    )
    parser.add_argument("--weights", type=float, nargs="*", help="text weights to sweep")
    parser.add_argument("--lead-weights", type=float, nargs="*", help="lead weights to sweep")
    parser.add_argument("--vector-leads", type=float, nargs="*", help="vector leads to sweep")
    parser.add_argument("--admin-url", help="superuser URL; default: a temp embedded server")
    args = parser.parse_args()

    puts, questions = corpus(args.users, seed=args.seed)
    report: dict[str, Any] = {
        "users": args.users,
        "seed": args.seed,
        "items": len(puts),
        "questions": len(questions),
    }
    embedders = {"hashing:256": HashingEmbeddings(256), "concept": ConceptEmbeddings(256)}
    settings = get_settings()
    with scratch_database(args.admin_url, "alma_rbench") as url:
        for config in ("english", "simple"):
            tenant = f"bench-{config}"
            with AlmaStore.from_conn_string(url, tenant_id=tenant, text_config=config) as store:
                store.batch(puts)
                report[f"text {config}"] = evaluate(store, questions)
            for label, embedder in embedders.items():
                index = {"dims": 256, "embed": embedder, "fields": ["text"], "ann": "exact"}
                tenant = f"bench-{config}-{label}"
                with AlmaStore.from_conn_string(
                    url, tenant_id=tenant, index=index, text_config=config
                ) as store:
                    for i in range(0, len(puts), 500):
                        store.batch(puts[i : i + 500])
                    core = store._core
                    core.text_weight = 0.0  # vectors alone (the lead lift is off too)
                    report[f"vector {label} {config}"] = evaluate(store, questions)
                    sweep = itertools.product(
                        args.weights or [settings.search_text_weight],
                        args.lead_weights or [settings.search_text_lead_weight],
                        args.vector_leads or [settings.search_vector_lead],
                    )
                    if args.replay:
                        cands = candidates(store, questions)
                        defaults = (core.text_lead_weight, core.vector_lead)
                        core.text_weight = settings.search_text_weight
                        statement = evaluate(store, questions)
                        replayed = replay(cands, settings.search_text_weight, *defaults)
                        if replayed != statement:
                            raise SystemExit(f"replay {replayed} != statement {statement}: "
                                             "update `fuse` to the statement's fusion")  # fmt: skip
                    for w, lead, vlead in sweep:
                        kind = f"fused {w}/{lead}/{vlead}"
                        if args.replay:
                            report[f"{kind} {label} {config}"] = replay(cands, w, lead, vlead)
                            continue
                        core.text_weight, core.text_lead_weight, core.vector_lead = w, lead, vlead
                        report[f"{kind} {label} {config}"] = evaluate(store, questions)
    print(json.dumps(report))
    head = "setup (fused: text weight/lead weight/vector lead)"
    print(f"\n{head:52} " + " ".join(f"{c:>7}" for c in ("R@1", "R@5", "R@10", "MRR")))
    for key, m in report.items():
        if isinstance(m, dict):
            cells = " ".join(f"{m[c]:>6}{_mark(report, key, c)}" for c in METRICS)
            print(f"{key:52} {cells}")


METRICS = ("recall@1", "recall@5", "recall@10", "mrr")


def _mark(report: dict[str, Any], key: str, metric: str) -> str:
    """A cross where a fused figure is below full text alone or vectors alone."""
    if not key.startswith("fused "):
        return " "
    label, config = key.split()[-2:]
    sides = [report.get(f"text {config}"), report.get(f"vector {label} {config}")]
    best = max(side[metric] for side in sides if side)
    return "✘" if report[key][metric] < best else " "


if __name__ == "__main__":
    main()
