"""State reducers for LangGraph state fields, and the same reducers applied outside a graph.

Each name is a LangGraph channel class to put in a field's annotation; LangGraph gives every
field its own instance. Imports only langgraph and pydantic (no other layer of this package).

>>> from typing import Annotated, TypedDict
>>> from langgraph_alma import reducers
>>> class State(TypedDict, total=False):
...     log: Annotated[list[str], reducers.append]     # appends lists or single items
...     best: Annotated[int, reducers.max]             # max, also of negative numbers
...     owner: Annotated[str, reducers.first_value]    # the first write wins for good

| name | combines | before any write |
|---|---|---|
| `append` | list + items (a non-list write is one item) | `[]` |
| `merge_dict` | dicts, recursively, later wins | `{}` |
| `union` | items not yet present, first-seen order (a set on a `set[...]` field) | `[]` / `set()` |
| `sum` | `a + b` | `0` |
| `last_value` | the last non-None write; concurrent writes allowed, last in write order | absent |
| `first_value` | the first non-None write ever; later writes ignored | absent |
| `max` / `min` | the largest / smallest write | absent |

Concurrent writes of one superstep are folded in LangGraph's deterministic write order
(tasks sorted by task path). `ReducerConfig` names a reducer per field; `StateMerger` merges
branch states with it and `from_config` builds the matching state `TypedDict`. The pure
two-argument functions are `REDUCERS[name].combine`.
"""

from langgraph_alma.reducers._channels import (
    CHANNELS,
    Append,
    FirstValue,
    LastValue,
    Max,
    MergeDict,
    Min,
    ReducerChannel,
    Sum,
    Union,
)
from langgraph_alma.reducers._functions import NO_VALUE, REDUCERS, Reducer
from langgraph_alma.reducers.merger import ReducerConfig, StateMerger, from_config

# The names, for annotations: `Annotated[int, reducers.max]`. They shadow the
# builtins only as attributes of this module.
append = Append
merge_dict = MergeDict
union = Union
sum = Sum
last_value = LastValue
first_value = FirstValue
max = Max
min = Min

__all__ = [
    "CHANNELS",
    "NO_VALUE",
    "REDUCERS",
    "Append",
    "FirstValue",
    "LastValue",
    "Max",
    "MergeDict",
    "Min",
    "Reducer",
    "ReducerChannel",
    "ReducerConfig",
    "StateMerger",
    "Sum",
    "Union",
    "append",
    "first_value",
    "from_config",
    "last_value",
    "max",
    "merge_dict",
    "min",
    "sum",
    "union",
]
