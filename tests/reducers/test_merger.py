"""ReducerConfig, StateMerger and from_config, without a database."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
from pydantic import ValidationError

from langgraph_alma import reducers
from langgraph_alma.reducers import ReducerConfig, StateMerger, from_config

CONFIG = ReducerConfig(
    field_reducers={
        "hi": "max",
        "lo": "min",
        "owner": "first_value",
        "tags": "union",
        "meta": "merge_dict",
        "log": "append",
        "total": "sum",
    }
)

# Five branch states; not every branch writes every field.
BRANCHES: list[dict[str, Any]] = [
    {
        "hi": -5,
        "lo": 7,
        "owner": "alpha",
        "tags": ["x", "y"],
        "meta": {"a": 1, "n": {"p": 1}},
        "log": ["b0"],
        "total": 3,
        "status": "started",
    },
    {
        "hi": -2,
        "lo": 4,
        "owner": "beta",
        "tags": ["y", "z"],
        "meta": {"b": 2, "n": {"q": 2}},
        "log": "b1",
        "total": -1,
    },
    {
        "hi": -9,
        "lo": 11,
        "tags": ("z", "x", "w"),
        "meta": {"a": 10},
        "log": ["b2a", "b2b"],
        "total": 5,
        "status": "running",
    },
    {"hi": -7, "owner": "delta", "log": [], "total": 0},
    {"lo": 9, "tags": "v", "meta": {"n": {"p": 100}}, "status": "done"},
]

MERGED = {
    "hi": -2,
    "lo": 4,
    "owner": "alpha",
    "tags": ["x", "y", "z", "w", "v"],
    "meta": {"a": 10, "n": {"p": 100, "q": 2}, "b": 2},
    "log": ["b0", "b1", "b2a", "b2b"],
    "total": 7,
    "status": "done",  # default_reducer last_value
}


def test_merge_five_branch_states() -> None:
    before = [dict(b) for b in BRANCHES]
    assert StateMerger(CONFIG).merge(BRANCHES) == MERGED
    assert before == BRANCHES  # inputs untouched


def test_merge_with_base_and_field_types() -> None:
    merger = StateMerger(CONFIG, field_types={"tags": set[str]})
    merged = merger.merge(BRANCHES[:2], base={"owner": "root", "hi": -1, "total": 10})
    assert merged["owner"] == "root"
    assert merged["hi"] == -1
    assert merged["total"] == 12
    assert merged["tags"] == {"x", "y", "z"}


def test_merge_of_nothing() -> None:
    assert StateMerger(CONFIG).merge([]) == {}
    assert StateMerger(CONFIG).merge([{}, {}]) == {}


def test_unknown_reducer_names_are_rejected() -> None:
    with pytest.raises(ValidationError, match=r"unknown reducer 'maximum' for field 'hi'"):
        ReducerConfig(field_reducers={"hi": "maximum"})
    with pytest.raises(ValueError, match=r"default_reducer; known reducers: append, first_value"):
        ReducerConfig(field_reducers={}, default_reducer="newest")
    with pytest.raises(ValidationError):
        ReducerConfig(field_reducers={"hi": "max"}, unknown_option=True)  # type: ignore[call-arg]


def test_default_config_takes_the_last_value() -> None:
    assert StateMerger(ReducerConfig()).merge([{"n": 1}, {"n": 2, "m": 0}]) == {"n": 2, "m": 0}


def test_config_lookup() -> None:
    assert CONFIG.reducer_name("log") == "append"
    assert CONFIG.reducer_name("anything") == "last_value"
    assert CONFIG.reducer_for("hi").combine(-3, -1) == -1


def test_from_config_builds_annotated_typeddict() -> None:
    state = from_config(CONFIG, "BranchState", field_types={"log": list[str], "status": str})
    assert state.__name__ == "BranchState"
    assert state.__total__ is False
    hints = typing.get_type_hints(state, include_extras=True)
    assert hints["log"] == Annotated[list[str], reducers.append]
    assert hints["hi"] == Annotated[Any, reducers.max]
    assert hints["status"] == Annotated[str, reducers.last_value]
    assert list(hints) == [*CONFIG.field_reducers, "status"]
