"""Results as JSON: the one place the MCP tools turn library objects into plain data."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from langgraph_alma.memory.scoring import SLICE_FIELDS, MemorySlice
from langgraph_alma.memory.types import Memory


def jsonable(value: Any) -> Any:
    """Any result (pydantic model, dataclass, datetime...) as JSON-ready data."""
    if isinstance(value, Memory):
        return memory(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable_python(dataclasses.asdict(value))
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return to_jsonable_python(value)


def record(value: BaseModel) -> dict[str, Any]:
    """A pydantic result as a JSON-ready dict: `jsonable(value)`, typed."""
    return memory(value) if isinstance(value, Memory) else value.model_dump(mode="json")


def memory(m: Memory) -> dict[str, Any]:
    """A memory with its kind (a class attribute pydantic would not dump)."""
    return {"kind": m.kind.value, **m.model_dump(mode="json")}


def memory_slice(found: MemorySlice, max_tokens: int = 1000) -> dict[str, Any]:
    """Retrieved memories by kind, best first, with a prompt rendering of them."""
    lists = {name: [memory(m) for m in getattr(found, name)] for name in SLICE_FIELDS.values()}
    return {
        "query": found.query,
        "agent": found.agent,
        **lists,
        "related": list(found.related),
        "total": sum(len(v) for v in lists.values()),
        "retrieval_time_ms": found.retrieval_time_ms,
        "prompt": found.to_prompt(max_tokens=max_tokens),
    }
