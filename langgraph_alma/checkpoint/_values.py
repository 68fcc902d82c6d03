"""Which channel values live inline (as JSON in the checkpoint row), and which values
PostgreSQL cannot hold. Pure code, no I/O."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pydantic import BaseModel

# Floats from here up are printed by PostgreSQL's numeric without a decimal point (and
# read back as ints): they are stored in blobs, which keep them exactly, as -0.0.
_INLINE_FLOAT_LIMIT = 1e15


def is_inline(value: Any) -> bool:
    """Primitive values that JSON in PostgreSQL reads back exactly live in the checkpoint
    row itself; the rest (and every str PostgreSQL cannot hold) go to blobs."""
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return (
            math.isfinite(value)
            and abs(value) < _INLINE_FLOAT_LIMIT
            and not (value == 0.0 and math.copysign(1.0, value) < 0)
        )
    return isinstance(value, str) and "\x00" not in value


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """Where `value` holds a str with a lone surrogate (not valid UTF-8, so neither
    PostgreSQL nor the serializer can store it faithfully), as a path; None if nowhere.

    >>> lone_surrogate({"a": ["ok", "\\ud800"]})
    "['a'][1]"
    """
    kind = type(value)
    if kind is str:
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(the value)"
        return None
    if kind is dict:
        for key, item in value.items():
            where = f"{path}[{key!r}]"
            if isinstance(key, str) and lone_surrogate(key) is not None:
                return where + " (the key)"
            if (found := lone_surrogate(item, where)) is not None:
                return found
        return None
    if kind in (list, tuple, set, frozenset):
        for i, item in enumerate(value):
            if (found := lone_surrogate(item, f"{path}[{i}]")) is not None:
                return found
        return None
    if value is None or kind in (int, float, bool, bytes):
        return None
    if isinstance(value, BaseModel):
        fields: Any = value.__dict__.items()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    elif isinstance(value, dict | list | tuple | set | frozenset | str):
        return lone_surrogate(kind.__mro__[-2](value), path)  # a subclass: check as the base
    else:
        return None
    for name, item in fields:
        if (found := lone_surrogate(item, f"{path}.{name}")) is not None:
            return found
    return None
