"""What the saver's reads and writes check or read of their inputs: a LangGraph run's
config (its runtime, its durability), limits, values PostgreSQL cannot store, task paths."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.serde.types import TASKS
from langgraph.constants import START

from langgraph_alma.checkpoint._values import lone_surrogate
from langgraph_alma.errors import (
    InvalidChannelValue,
    InvalidLimit,
)

PRUNE_STRATEGIES = ("keep_latest", "delete")
_PULL = "~__pregel_pull"
_PUSH = "~__pregel_push"
_MAX_LIMIT = 2**63 - 1
_RUNTIME = "__pregel_runtime"  # LangGraph's per-run object in configurable
_DURABILITY = "__pregel_durability"  # set by LangGraph when a run names its durability
_BRANCH = "branch:to:"  # a StateGraph node's trigger channel
_STEP_CHANNELS = (START, TASKS)  # the start node's trigger; sends (push tasks)


_MARKED_RUNS = 64


def _async_durability(conf: dict[str, Any]) -> bool:
    """Writes from a LangGraph run that does not wait for them (durability "async" or
    "exit"); direct calls and durability "sync" wait for a synchronous commit."""
    return _RUNTIME in conf and conf.get(_DURABILITY, "async") != "sync"


def _async_checkpoints(conf: dict[str, Any], checkpoint: Mapping[str, Any]) -> bool:
    """A checkpoint of a LangGraph run with durability "async" (the default) after which
    the run goes on: a node's `branch:to:` channel, the start node or sends were updated,
    so another step runs and its checkpoint is saved after this one. The run's last
    checkpoint (none due), those of "sync" and "exit" runs, and direct calls wait for
    the WAL flush; a synchronous commit flushes every earlier one with it."""
    if _RUNTIME not in conf or conf.get(_DURABILITY, "async") != "async":
        return False
    for channel in checkpoint.get("updated_channels") or ():
        if channel.startswith(_BRANCH) or channel in _STEP_CHANNELS:
            return True
    return False


def _run_of(config: RunnableConfig) -> Any:
    return (config.get("configurable") or {}).get(_RUNTIME)


class RunMarks:
    """The last LangGraph runs marked for something (a refused checkpoint, an error
    written...), bounded: the oldest marks are forgotten. A run is kept by its per-run
    object, not its id alone, which a new run may reuse once the marked one is gone."""

    __slots__ = ("_runs",)

    def __init__(self) -> None:
        self._runs: OrderedDict[int, Any] = OrderedDict()

    def mark(self, config: RunnableConfig) -> None:
        """Mark the run of `config` (nothing for a direct call, which has no run)."""
        if (run := _run_of(config)) is not None:
            self._runs[id(run)] = run
            while len(self._runs) > _MARKED_RUNS:
                self._runs.popitem(last=False)

    def marked(self, config: RunnableConfig) -> bool:
        """Whether the run of `config` is marked."""
        run = _run_of(config)
        return run is not None and self._runs.get(id(run)) is run


def check_limit(limit: Any) -> int | None:
    """`limit` as given, if PostgreSQL can take it; else `InvalidLimit` (before any I/O)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
        raise InvalidLimit(limit)
    return limit


def _checked(where: str, value: Any) -> Any:
    """`value`, once known to hold no str PostgreSQL and the serializer cannot store."""
    if (path := lone_surrogate(value)) is not None:
        raise InvalidChannelValue(where, path)
    return value


def checked_dumps(serde: SerializerProtocol, where: str, value: Any) -> tuple[str, bytes]:
    """`serde.dumps_typed(value)`, refusing a value with a lone surrogate (`_checked`).
    LangGraph's own serializer writes each lone surrogate as "?" in its msgpack: bytes
    of it with no "?" hold none, so the walk over the value (a few percent of a chat
    turn's CPU) runs only when a "?" is there; another serializer's output says
    nothing, and the value is walked first as before.

    >>> checked_dumps(JsonPlusSerializer(), "channel 'x'", ["\\ud800"])  # doctest: +SKIP
    InvalidChannelValue: ...
    """
    if type(serde) is not JsonPlusSerializer:
        return serde.dumps_typed(_checked(where, value))
    try:
        dumped = serde.dumps_typed(value)
    except Exception:
        _checked(where, value)  # a lone surrogate it refused (in a key): say so
        raise
    if dumped[0] != "msgpack" or b"?" in dumped[1]:
        _checked(where, value)
    return dumped


def task_node(task_path: str) -> tuple[str | None, str | None]:
    """(node_id, branch_id) of a task from its path: a pull task names its node; a push
    task (`Send`, fan-out) is a branch identified by its path."""
    parts = [p.strip() for p in task_path.split(",")] if task_path else []
    if len(parts) >= 2 and parts[0] == _PULL:
        return parts[1], None
    if parts and parts[0] == _PUSH:
        return None, task_path
    return None, None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
