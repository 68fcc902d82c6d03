"""A faster `loads_typed` for LangGraph's serializer: LangChain messages are rebuilt
from their stored fields without running pydantic validation again. Pure code, no I/O.

LangGraph's `JsonPlusSerializer` stores a message as its `model_dump()` and reads it
back with `cls(**fields)`, which validates every field (about three quarters of a
message's decoding time). A message whose stored fields are exactly its class's fields
was valid when it was dumped, so this module builds it as `model_construct` would,
setting the decoded dict as the object's fields: the result equals what was written
(its fields, fields set and extras), and the dict is new on every read, so nothing is
shared. Anything else (another class, a message dumped by an older langchain-core with
other fields, a custom or encrypting serializer) is decoded by the serializer itself.

>>> serde = JsonPlusSerializer()                                        # doctest: +SKIP
>>> fast_loads(serde)(serde.dumps_typed([HumanMessage("hi", id="1")]))  # doctest: +SKIP
[HumanMessage(content='hi', additional_kwargs={}, response_metadata={}, id='1')]
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import orjson
import ormsgpack
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import EXT_PYDANTIC_V2, JsonPlusSerializer
from pydantic import BaseModel

Loads = Callable[[tuple[str, bytes]], Any]
ExtHook = Callable[[int, bytes], Any]

_OPTION = ormsgpack.OPT_NON_STR_KEYS
_set = object.__setattr__


def _construct_by_hand(cls: type[BaseModel], fields: dict[str, Any]) -> BaseModel:
    """`cls.model_construct(**fields)` when `fields` names every field of `cls` and
    nothing else (no defaults to fill, no extras to sort), in a quarter of its time."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(fields))
    _set(obj, "__pydantic_extra__", {} if cls.model_config.get("extra") == "allow" else None)
    _set(obj, "__pydantic_private__", None)
    return obj


_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _builder(cls: type[BaseModel]) -> Callable[[dict[str, Any]], BaseModel]:
    """How to build `cls` from its full set of fields: by hand when that gives what
    `model_construct` gives for a sample (checked once, so a pydantic release that
    changes its internals falls back to `model_construct`), else `model_construct`."""
    sample = {"content": "x", "id": "1"}
    if cls is ToolMessage:
        sample["tool_call_id"] = "c"
    if cls is ChatMessage:
        sample["role"] = "r"
    if cls is FunctionMessage:
        sample["name"] = "f"
    try:
        dumped = cls(**sample).model_dump()
        by_hand = _construct_by_hand(cls, dict(dumped))
        constructed = cls.model_construct(**dict(dumped))
        same = all(getattr(by_hand, s) == getattr(constructed, s) for s in _SLOTS)
        same = same and not cls.__private_attributes__ and not cls.__pydantic_post_init__
    except Exception:  # noqa: BLE001 - any surprise: the documented way
        same = False
    if same:
        return functools.partial(_construct_by_hand, cls)
    return lambda fields: cls.model_construct(**fields)


# The plain message classes (not chunks, whose validators derive fields from others):
# (module, name) as the serializer stores them -> (field names, `type`, builder).
_MESSAGES: dict[tuple[str, str], tuple[frozenset[str], str, Callable[[dict[str, Any]], Any]]] = {
    (cls.__module__, cls.__name__): (
        frozenset(cls.model_fields),
        cls.model_fields["type"].default,
        _builder(cls),
    )
    for cls in (HumanMessage, AIMessage, SystemMessage, ToolMessage, ChatMessage, FunctionMessage)
}


def _message(tup: Any) -> Any:
    """The message `tup` (module, name, fields, ...) describes, or None if it is not one
    this module builds itself."""
    if type(tup) is not list or len(tup) < 3:
        return None
    known = _MESSAGES.get((tup[0], tup[1]))
    fields = tup[2]
    if known is None or type(fields) is not dict or fields.keys() != known[0]:
        return None
    if fields.get("type") != known[1]:
        return None
    return known[2](fields)


@functools.lru_cache(maxsize=64)
def _hook(fallback: ExtHook) -> ExtHook:
    """An ext hook that builds messages itself and leaves every other type (and any
    message it does not build) to the serializer's own hook, `fallback`."""

    def hook(code: int, data: bytes) -> Any:
        if code == EXT_PYDANTIC_V2:
            try:
                built = _message(ormsgpack.unpackb(data, ext_hook=hook, option=_OPTION))
            except Exception:  # noqa: BLE001 - the serializer decides what to do with it
                built = None
            if built is not None:
                return built
        return fallback(code, data)

    return hook


def fast_loads(serde: SerializerProtocol) -> Loads:
    """`serde.loads_typed`, faster for messages when `serde` is LangGraph's own
    `JsonPlusSerializer` (not a subclass, which may read differently)."""
    fallback = getattr(serde, "_unpack_ext_hook", None)
    if type(serde) is not JsonPlusSerializer or not callable(fallback):
        return serde.loads_typed
    hook = _hook(fallback)
    slow = serde.loads_typed

    def loads(data: tuple[str, bytes]) -> Any:
        if data[0] == "msgpack":
            return ormsgpack.unpackb(data[1], ext_hook=hook, option=_OPTION)
        return slow(data)

    return loads


# A run of 19 digits: a number orjson may read as a float (it keeps 64-bit integers only).
_LONG_NUMBER = re.compile(r"\d{19}")


def json_loads(text: str) -> Any:
    """JSON text as the standard library reads it, with orjson wherever that is the same
    (no number beyond 64 bits, no infinity): several times faster.

    >>> json_loads('{"a": [1, 2.5, null], "b": 1180591620717411303424}')
    {'a': [1, 2.5, None], 'b': 1180591620717411303424}
    """
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
