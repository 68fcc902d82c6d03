"""Search filters to SQL: a pure builder, testable without a database.

Semantics follow `InMemoryStore`: a plain value means equality (a missing key equals
`None`), a dict without operators matches nested keys, a dict of operators applies each.
Beyond InMemoryStore: dotted keys (`"a.b"`) address nested values, `$in`, `$nin` and
`$exists` are supported, and range operators compare numbers as numbers and strings as
strings (by code point, as Python does); a value of another type never matches.

>>> params: dict = {}
>>> build_filter({"score": {"$gte": 3}}, params)
"(jsonb_typeof(s.value #> %(f0)s::text[]) = 'number' AND ..."            # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from langgraph_alma.errors import InvalidFilter
from langgraph_alma.store._checks import depth_exceeds, text_problem

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_RANGE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class _Builder:
    def __init__(self, params: dict[str, Any], column: str, prefix: str, root: Any) -> None:
        self.params, self.column, self.prefix, self.root = params, column, prefix, root

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        while name in self.params:
            name += "_"
        self.params[name] = value
        return f"%({name})s"

    def json_text(self, value: Any) -> str:
        """`value` as JSON text PostgreSQL accepts, or `InvalidFilter`."""
        try:
            text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidFilter(f"filter operand {value!r:.80} is not JSON", self.root) from exc
        if _NUL_ESCAPE.search(text):
            raise InvalidFilter(f"filter operand {value!r:.80} holds a NUL character", self.root)
        _check_text(text, self.root)
        return text

    def json(self, value: Any) -> str:
        return self.bind(self.json_text(value)) + "::jsonb"

    def at(self, path: list[str]) -> str:
        return f"({self.column} #> {self.bind(path)}::text[])"

    def condition(self, path: list[str], expected: Any) -> list[str]:
        if isinstance(expected, Mapping):
            if any(str(k).startswith("$") for k in expected):
                return [self.operator(path, op, operand) for op, operand in expected.items()]
            # A dict without operators matches its keys inside an object at `path`.
            parts = [f"jsonb_typeof({self.at(path)}) = 'object'"]
            for k, v in expected.items():
                parts.extend(self.condition([*path, *split_key(k, self.root)], v))
            return parts
        return [self.equals(path, expected)]

    def equals(self, path: list[str], expected: Any) -> str:
        # coalesce: a missing key compares as null, as `dict.get` gives None.
        return f"coalesce({self.at(path)}, 'null'::jsonb) = {self.json(expected)}"

    def operator(self, path: list[str], op: Any, operand: Any) -> str:
        if op == "$eq":
            return self.equals(path, operand)
        if op == "$ne":
            return f"coalesce({self.at(path)}, 'null'::jsonb) <> {self.json(operand)}"
        if op in _RANGE:
            return self.range(path, _RANGE[op], operand)
        if op in ("$in", "$nin"):
            if not isinstance(operand, list | tuple | set | frozenset):
                raise InvalidFilter(f"{op} needs a list, got {operand!r}", self.root)
            if not operand:
                return "FALSE" if op == "$in" else "TRUE"
            # one array parameter, however many values (PostgreSQL takes 65,535 at most)
            options = self.bind([self.json_text(v) for v in operand]) + "::text[]::jsonb[]"
            test = f"coalesce({self.at(path)}, 'null'::jsonb) = ANY({options})"
            return test if op == "$in" else f"NOT {test}"
        if op == "$exists":
            if not isinstance(operand, bool):
                raise InvalidFilter(f"$exists needs true or false, got {operand!r}", self.root)
            return f"{self.at(path)} IS {'NOT ' if operand else ''}NULL"
        raise InvalidFilter(
            f"unknown filter operator {op!r} (known: {', '.join(OPERATORS)})", self.root
        )

    def range(self, path: list[str], sql_op: str, operand: Any) -> str:
        if isinstance(operand, bool) or not isinstance(operand, int | float | str):
            raise InvalidFilter(
                f"range operators compare numbers or strings, got {operand!r}", self.root
            )
        if isinstance(operand, str):
            _check_text(operand, self.root)
            text = f"({self.column} #>> {self.bind(path)}::text[])"
            return (
                f"(jsonb_typeof({self.at(path)}) = 'string' AND "
                f'{text} COLLATE "C" {sql_op} {self.bind(operand)}::text COLLATE "C")'
            )
        if operand != operand or operand in (float("inf"), float("-inf")):
            raise InvalidFilter(f"range operand must be finite, got {operand!r}", self.root)
        # CASE, not AND: SQL does not promise to test the type before casting.
        value = self.at(path)
        return (
            f"(CASE WHEN jsonb_typeof({value}) = 'number' "
            f"THEN ({value})::numeric {sql_op} {self.bind(str(operand))}::numeric ELSE FALSE END)"
        )


def _check_text(text: str, root: Any) -> None:
    if problem := text_problem(text):
        raise InvalidFilter(f"{text!r:.80} {problem}", root)


def split_key(key: Any, root: Any) -> list[str]:
    """`"a.b"` -> `["a", "b"]`: dotted filter keys address nested values."""
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise InvalidFilter(f"filter keys must be non-empty dotted names, got {key!r}", root)
    _check_text(key, root)
    return key.split(".")


def build_filter(
    filter: Mapping[str, Any] | None,
    params: dict[str, Any],
    *,
    column: str = "s.value",
    prefix: str = "f",
    max_depth: int | None = None,
) -> str:
    """A SQL condition on `column` for `filter`, binding operands into `params`
    (named `prefix0`, `prefix1`, ...). Raises `InvalidFilter` for bad input, and for a
    filter nesting deeper than `max_depth` (checked without recursion)."""
    if not filter:
        return "TRUE"
    if not isinstance(filter, Mapping):
        raise InvalidFilter("a filter must be a dict", filter)
    if max_depth is not None and depth_exceeds(filter, max_depth):
        raise InvalidFilter(
            f"the filter nests deeper than {max_depth} levels (ALMA_STORE_MAX_DEPTH)",
            "<too deep to show>",
        )
    builder = _Builder(params, column, prefix, filter)
    parts: list[str] = []
    for key, expected in filter.items():
        parts.extend(builder.condition(split_key(key, filter), expected))
    return "(" + " AND ".join(parts) + ")"
