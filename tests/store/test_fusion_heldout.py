"""The held-out benchmark's harness (bench/heldout_bench.py) on small files of the two
published formats: it reads LoCoMo and LongMemEval conversations, stores each turn as an
item and scores recall of the evidence turns through AlmaStore.search."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest


def _bench():
    path = Path(__file__).parents[2] / "bench" / "heldout_bench.py"
    spec = importlib.util.spec_from_file_location("heldout_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


CHATTER = [
    "How was your weekend?",
    "Pretty good, we went hiking near the lake.",
    "Did you watch the game last night?",
    "No, I was busy cooking dinner for my parents.",
]
LOCOMO = [
    {
        "sample_id": "conv-1",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:00 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana" if i % 2 else "Ben", "dia_id": f"D1:{i + 1}", "text": t}
                for i, t in enumerate(CHATTER * 5)
            ]
            + [
                {"speaker": "Ana", "dia_id": "D1:21", "text": "I adopted a greyhound named Zephyr."}
            ],
            "session_2": [
                {"speaker": "Ben", "dia_id": "D2:1", "text": "My sister moved to Reykjavik."},
                {
                    "speaker": "Ana",
                    "dia_id": "D2:2",
                    "text": "Look at this!",
                    "blip_caption": "a photo of a saxophone on a stand",
                },
            ],
        },
        "qa": [
            {"question": "What is the name of Ana's greyhound?", "evidence": ["D1:21"]},
            {"question": "Where did Ben's sister move to, Reykjavik?", "evidence": ["D2:1"]},
            {"question": "Which saxophone photo did Ana share?", "evidence": ["D2:2"]},
            {"question": "Zephyr and Reykjavik: whose are they?", "evidence": ["D1:21; D2:1"]},
            {"question": "An adversarial question with no evidence", "evidence": []},
        ],
    }
]
LONGMEMEVAL = [
    {
        "question_id": "q1",
        "question": "Which marathon did I sign up for?",
        "haystack_sessions": [
            [{"role": "user", "content": t, "has_answer": False} for t in CHATTER * 5],
            [
                {"role": "user", "content": "I signed up for the Berlin marathon!",
                 "has_answer": True},
                {"role": "assistant", "content": "Great, good luck with training."},
            ],
        ],
    }
]  # fmt: skip


@pytest.mark.parametrize(("data", "questions"), [(LOCOMO, 4), (LONGMEMEVAL, 1)])
def test_heldout_harness_reads_both_formats_and_scores_recall(
    database, tmp_path, data, questions
) -> None:
    bench = _bench()
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    convs = bench.load(path)
    assert sum(len(c.questions) for c in convs) == questions  # no-evidence questions skipped
    report = bench.run(database.url, convs, ("english",))
    assert report["questions"] == questions
    for setup in ("full text, english", "hybrid hashing:256, english"):
        # each evidence turn shares a rare word with its question: found in the top 5
        assert report[setup]["recall@5"] == 1.0, report


def test_heldout_harness_rejects_other_files(tmp_path) -> None:
    bench = _bench()
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"something": "else"}]))
    with pytest.raises(ValueError, match="neither LoCoMo"):
        bench.load(path)
