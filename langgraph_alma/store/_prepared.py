"""Checking and encoding ops before any I/O: `OpChecks` (mixed into `StoreCore`) turns
each op into a `CheckedOp` (raising a named error on bad input) and a batch of them into a
`Prepared` batch (the last put of a key wins; what to embed listed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchOp,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from langgraph_alma.errors import (
    InvalidStoreKey,
    InvalidValue,
    ValueTooLarge,
)
from langgraph_alma.store._checks import (
    StoreLimits,
    check_max_depth,
    check_namespace,
    check_page,
    check_text,
    depth_exceeds,
    text_problem,
    trim_query,
    ttl_problem,
)
from langgraph_alma.store._filters import build_filter
from langgraph_alma.store._index import IndexSettings

_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

Key = tuple[tuple[str, ...], str]


@dataclass
class Prepared:
    """A validated batch and what it needs embedded."""

    tenant: str
    ops: list[Op]
    puts: dict[Key, PutOp]
    encoded: dict[Key, tuple[str, str]]  # key -> (value as JSON, full-text source)
    documents: list[str] = field(default_factory=list)
    document_refs: list[tuple[Key, str]] = field(default_factory=list)  # (item, field)
    queries: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedOp:
    """One op, validated and encoded: what `StoreCore.assemble` builds a batch from. An
    async store checks each caller's op when it is called, then gathers them."""

    op: Op
    encoded: tuple[str, str] | None = None  # a put's value as JSON and its full-text source
    documents: tuple[tuple[str, str], ...] = ()  # a put's (field, text) pairs to embed


def ns_path(namespace: Sequence[str]) -> str:
    return ".".join(namespace)


def _string_leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _string_leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _string_leaves(v)


def _texts(value: Mapping[str, Any], path: str, tokens: Sequence[str]) -> list[str]:
    if path == "$":
        return list(_string_leaves(value))
    return get_text_at_path(value, list(tokens))


class OpChecks:
    """Validation and encoding of ops, for `StoreCore` (see the module)."""

    limits: StoreLimits
    index: IndexSettings | None
    max_value_bytes: int

    def check(self, op: Op, position: int = 0) -> CheckedOp:
        """Validate and encode one op (`position`: its place in the batch, for errors);
        raises `InvalidStoreKey`, `InvalidValue`, `InvalidFilter`, `ConfigError`..."""
        limits = self.limits
        if not isinstance(op, GetOp | PutOp | SearchOp | ListNamespacesOp):
            raise ValueError(f"unknown store operation {op!r}")
        if isinstance(op, GetOp | PutOp):
            check_namespace(position, op.namespace, limits.max_key_bytes)
            check_text(position, "key", op.key, limits.max_key_bytes)
        elif isinstance(op, SearchOp):
            check_namespace(position, op.namespace_prefix, limits.max_key_bytes)
        validate_op_namespace(op)
        if isinstance(op, PutOp):
            if not op.namespace:
                raise InvalidNamespaceError("Namespace cannot be empty.")
            if op.value is None:  # a delete
                return CheckedOp(op)
            encoded = (self._encode(op, position), self._search_text(op))
            return CheckedOp(op, encoded, tuple(self._documents(op)))
        if isinstance(op, SearchOp | ListNamespacesOp):
            check_page(position, op.limit, op.offset, limits.max_limit)
        if isinstance(op, ListNamespacesOp):
            check_max_depth(position, op.max_depth)
            for cond in op.match_conditions or ():
                check_namespace(position, [p for p in cond.path if p != "*"], limits.max_key_bytes)
        if isinstance(op, SearchOp):
            build_filter(op.filter, {}, max_depth=limits.max_depth)  # raises InvalidFilter
            if op.query is not None:
                if not isinstance(op.query, str):
                    raise InvalidStoreKey(position, "query", op.query, "is not a string")
                if problem := text_problem(op.query):
                    raise InvalidStoreKey(position, "query", op.query, problem)
                trimmed = trim_query(op.query, limits.max_query_words)
                if trimmed != op.query:
                    op = op._replace(query=trimmed)
        return CheckedOp(op)

    def assemble(self, tenant: str, checked: Sequence[CheckedOp]) -> Prepared:
        """The batch of `checked` ops for `tenant`: the last put of a key wins (at its
        position), and the texts to embed are those of the puts that remain."""
        puts: dict[Key, tuple[PutOp, CheckedOp]] = {}
        queries: dict[str, None] = {}
        for c in checked:
            op = c.op
            if isinstance(op, PutOp):
                puts.pop((op.namespace, op.key), None)  # keep the last put's position
                puts[(op.namespace, op.key)] = (op, c)
            elif isinstance(op, SearchOp) and op.query and self.index:
                queries[op.query] = None
        prepared = Prepared(
            tenant, [c.op for c in checked], {k: put for k, (put, _) in puts.items()}, {},
            queries=list(queries),
        )  # fmt: skip
        for k, (_, c) in puts.items():
            if c.encoded is not None:
                prepared.encoded[k] = c.encoded
                for path, text in c.documents:
                    prepared.documents.append(text)
                    prepared.document_refs.append((k, path))
        return prepared

    def _encode(self, op: PutOp, position: int = 0) -> str:
        where = f"op {position}: "
        if not isinstance(op.value, Mapping):
            raise InvalidValue(
                f"{where}values must be dicts, got {type(op.value).__name__}", op.key
            )
        if op.ttl is not None and (problem := ttl_problem(op.ttl, self.limits.max_ttl_minutes)):
            raise InvalidValue(where + problem, op.key)
        if depth_exceeds(op.value, self.limits.max_depth):
            raise InvalidValue(
                f"{where}value nests deeper than {self.limits.max_depth} levels "
                "(ALMA_STORE_MAX_DEPTH)",
                op.key,
            )
        try:
            text = json.dumps(op.value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"{where}value is not JSON-serialisable ({exc})", op.key) from exc
        if _NUL_ESCAPE.search(text):
            raise InvalidValue(f"{where}PostgreSQL JSON cannot hold NUL characters", op.key)
        try:
            size = len(text.encode())
        except UnicodeEncodeError as exc:
            raise InvalidValue(
                f"{where}value holds a lone surrogate ({text[exc.start]!r}), which is not UTF-8",
                op.key,
            ) from exc
        if size > self.max_value_bytes:
            raise ValueTooLarge(op.key, size, self.max_value_bytes)
        return text

    def _paths(self, op: PutOp) -> list[tuple[str, Sequence[str]]]:
        if op.index is False:
            return []
        if op.index is not None:
            return [(p, tokenize_path(p)) for p in op.index]
        if self.index:
            return list(self.index.fields)
        return [("$", ("$",))]

    def _search_text(self, op: PutOp) -> str:
        value = op.value or {}  # a put with a value: a delete has no text
        return "\n".join(t for p, tokens in self._paths(op) for t in _texts(value, p, tokens))

    def _documents(self, op: PutOp) -> Iterable[tuple[str, str]]:
        if not self.index:
            return
        for path, tokens in self._paths(op):
            texts = get_text_at_path(op.value, list(tokens) if path != "$" else "$")
            for i, text in enumerate(texts):
                yield (f"{path}.{i}" if len(texts) > 1 else path), text
