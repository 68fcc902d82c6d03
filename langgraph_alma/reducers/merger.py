"""One reducer configuration for both sides: merging branch states outside a graph
(`StateMerger`) and building the graph's state schema (`from_config`).

>>> config = ReducerConfig(field_reducers={"log": "append", "best": "max"})
>>> StateMerger(config).merge([{"log": ["a"], "best": -3}, {"log": "b", "best": -1}])
{'log': ['a', 'b'], 'best': -1}
>>> State = from_config(config, field_types={"log": list[str]})  # a TypedDict for StateGraph
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

from langgraph_alma.reducers._channels import CHANNELS
from langgraph_alma.reducers._functions import NO_VALUE, REDUCERS, Reducer

__all__ = ["ReducerConfig", "StateMerger", "from_config"]


def _check_name(name: str, where: str) -> str:
    if name not in REDUCERS:
        known = ", ".join(sorted(REDUCERS))
        raise ValueError(f"unknown reducer {name!r} for {where}; known reducers: {known}")
    return name


class ReducerConfig(BaseModel):
    """Which reducer each state field uses; fields not listed use `default_reducer`.

    `ReducerConfig(field_reducers={"log": "append"}, default_reducer="last_value")`; an
    unknown reducer name fails validation (a `ValueError`) naming the field and the known names.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field_reducers: dict[str, str] = Field(default_factory=dict)
    default_reducer: str = "last_value"

    @field_validator("field_reducers")
    @classmethod
    def _known_field_reducers(cls, value: dict[str, str]) -> dict[str, str]:
        for field, name in value.items():
            _check_name(name, f"field {field!r}")
        return value

    @field_validator("default_reducer")
    @classmethod
    def _known_default_reducer(cls, value: str) -> str:
        return _check_name(value, "default_reducer")

    def reducer_name(self, field: str) -> str:
        """`config.reducer_name("log") == "append"`."""
        return self.field_reducers.get(field, self.default_reducer)

    def reducer_for(self, field: str) -> Reducer:
        """The `Reducer` of `field`: `config.reducer_for("log").combine(["a"], "b")`."""
        return REDUCERS[self.reducer_name(field)]


class StateMerger:
    """Merges N branch states with the reducers a graph's channels use.

    `StateMerger(config).merge([s1, s2, s3])` folds each field over the states that hold it,
    in list order, as one superstep's writes in LangGraph's write order would be folded; a
    field no state holds is left out. `field_types` picks a union's kind (`set[str]` gives
    a set) and a sum's zero, as the field's annotation does in a graph.
    """

    def __init__(self, config: ReducerConfig, field_types: Mapping[str, Any] | None = None):
        self.config = config
        self.field_types = dict(field_types or {})

    def merge(
        self, states: Iterable[Mapping[str, Any]], base: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """`merger.merge(branch_states, base=state_before)`: `base` plays the state the
        branches started from (a `first_value` field that `base` holds keeps it)."""
        states = list(states)
        base = base or {}
        fields = dict.fromkeys([*base, *(field for state in states for field in state)])
        merged: dict[str, Any] = {}
        for field in fields:
            value = self.config.reducer_for(field).fold(
                (state[field] for state in states if field in state),
                base.get(field, NO_VALUE),
                self.field_types.get(field, Any),
            )
            if value is not NO_VALUE:
                merged[field] = value
        return merged


def from_config(
    config: ReducerConfig, name: str = "State", field_types: Mapping[str, Any] | None = None
) -> type:
    """A `TypedDict` (total=False) with one `Annotated[type, channel]` field for each field
    of `config.field_reducers` and of `field_types` (types default to `Any`):
    `StateGraph(from_config(config, "State", {"log": list[str]}))`."""
    types = dict(field_types or {})
    fields = dict.fromkeys([*config.field_reducers, *types])
    annotations = {
        field: Annotated[types.get(field, Any), CHANNELS[config.reducer_name(field)]]
        for field in fields
    }
    return TypedDict(name, annotations, total=False)  # type: ignore[operator]  # TypedDict's functional form, a computed name
