"""Placeholders converted once per statement text.

psycopg turns `%(name)s` placeholders into PostgreSQL's `$n` on every execute, and
caches the conversion only for statements shorter than 4,096 characters: the store's
search statement (6-7k) was re-parsed on every search, ~0.1-0.2 ms of the event loop's
time. A statement with named parameters is converted here once per text (cached) and
sent through psycopg's raw cursor, which takes `$n` placeholders and a sequence of
values as they are. The `$n` text, the parameters' formats and so their types are the
ones psycopg's own conversion gives, so statements are prepared under the same names
and plans as before.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.adapt import PyFormat
from psycopg.pq import Format
from psycopg.rows import tuple_row

__all__ = ["BinaryList", "Converted", "acursor_for", "convert", "cursor_for", "statement_for"]

_PLACEHOLDER = re.compile(r"%(?:(%)|\(([^)]+)\)([sbt])|(.))", re.DOTALL)
_RAW_CACHE = 1024


class BinaryList(list[Any]):
    """A list bound in binary format from a `%(name)b` placeholder on the raw cursor
    (which binds every value in psycopg's automatic format: text for a list of text)."""

    __slots__ = ()


_LIST_BINARY = psycopg.adapters.get_dumper(list, PyFormat.BINARY)


@dataclass(frozen=True, slots=True)
class Converted:
    """A statement's `$n` text and what binds to each placeholder."""

    query: str  # with $n placeholders
    names: tuple[str, ...]  # the parameter of each $n
    binary: tuple[bool, ...]  # bound in binary (`%(name)b`)


@functools.lru_cache(maxsize=_RAW_CACHE)
def convert(query: str) -> Converted | None:
    """`query`'s `%(name)s`/`%(name)b` placeholders as `$n`; None when it has any other
    kind (positional `%s`, `%(name)t`, a stray `%`): psycopg's own path handles those."""
    names: dict[str, int] = {}
    binary: list[bool] = []
    bad = False

    def sub(m: re.Match[str]) -> str:
        nonlocal bad
        if m.group(1):
            return "%"
        name, fmt = m.group(2), m.group(3)
        if name is None or fmt == "t":
            bad = True
            return ""
        if name in names:
            if binary[names[name]] != (fmt == "b"):
                bad = True  # psycopg refuses one name in two formats: let it say so
            return f"${names[name] + 1}"
        names[name] = len(binary)
        binary.append(fmt == "b")
        return f"${len(binary)}"

    converted = _PLACEHOLDER.sub(sub, query)
    if bad or not names:
        return None
    return Converted(converted, tuple(names), tuple(binary))


def statement_for(
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], query: Any, params: Any
) -> tuple[Any, Any, bool]:
    """The query and parameters to execute `query` with `params`, and whether on a raw
    cursor (`cursor_for`/`acursor_for`)."""
    if not isinstance(query, str) or not isinstance(params, Mapping):
        return query, params, False
    if conn.cursor_factory not in (psycopg.Cursor, psycopg.AsyncCursor):
        return query, params, False  # a client-side cursor, say: the caller's choice
    conv = convert(query)
    if conv is None:
        return query, params, False
    try:
        values = [params[name] for name in conv.names]
    except KeyError as exc:
        raise psycopg.ProgrammingError(f"query parameter missing: {exc.args[0]}") from None
    if any(conv.binary):
        adapters = conn.adapters
        if adapters.get_dumper(BinaryList, PyFormat.AUTO) is not _LIST_BINARY:
            adapters.register_dumper(BinaryList, _LIST_BINARY)
        for i, binary in enumerate(conv.binary):
            if binary and type(values[i]) is list:
                values[i] = BinaryList(values[i])
            elif binary and values[i] is not None and not isinstance(values[i], BinaryList):
                return query, params, False  # a binary non-list: psycopg's own path
    return conv.query, values, True


def cursor_for(conn: psycopg.Connection[Any], raw: bool) -> psycopg.Cursor[Any]:
    """A cursor returning tuples in binary: a raw one for a converted statement."""
    if not raw:
        return conn.cursor(binary=True, row_factory=tuple_row)
    cur = psycopg.RawCursor(conn, row_factory=tuple_row)
    cur.format = Format.BINARY
    return cur


def acursor_for(conn: psycopg.AsyncConnection[Any], raw: bool) -> psycopg.AsyncCursor[Any]:
    """`cursor_for` on an async connection."""
    if not raw:
        return conn.cursor(binary=True, row_factory=tuple_row)
    cur = psycopg.AsyncRawCursor(conn, row_factory=tuple_row)
    cur.format = Format.BINARY
    return cur
