"""Input checks of AlmaStore, pure: what PostgreSQL cannot hold is refused before any I/O.

A batch is all or nothing, so every key, namespace label, value, TTL, page and query of
it is checked here first; each breach is a named error (`InvalidStoreKey`,
`InvalidValue`, `ConfigError`) that says which op and which value. Limits come from
`StoreLimits` (the settings `ALMA_STORE_*`).

>>> text_problem("k\\x00")
'holds a NUL character, which PostgreSQL text cannot hold'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph_alma.config import Settings, get_settings
from langgraph_alma.errors import ConfigError, InvalidStoreKey

# A small list of words that carry little meaning in a search query; they are the first
# to go when a query has to be trimmed.
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have how i in is it its of on or that the this "
    "to was were what when where which who why will with you your".split()
)
_WORD = re.compile(r"\w+")
MAX_WORD_CHARS = 100  # longer "words" (base64, hashes) say nothing and tsquery refuses them


@dataclass(frozen=True)
class StoreLimits:
    """The store's input limits (from `Settings`: `ALMA_STORE_MAX_DEPTH`, ...)."""

    max_depth: int = 100
    max_key_bytes: int = 1024
    max_query_words: int = 256
    max_limit: int = 2**31 - 1
    max_ttl_minutes: float = 100 * 366 * 24 * 60

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StoreLimits:
        s = settings or get_settings()
        return cls(
            max_depth=s.store_max_depth,
            max_key_bytes=s.store_max_key_bytes,
            max_query_words=s.store_max_query_words,
            max_limit=s.store_max_limit,
            max_ttl_minutes=s.store_max_ttl_minutes,
        )


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot hold `text` (None if it can)."""
    if "\x00" in text:
        return "holds a NUL character, which PostgreSQL text cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate ({text[exc.start]!r} at {exc.start}), which is not UTF-8"
    return None


def check_text(op: int, what: str, text: Any, max_bytes: int) -> None:
    """Raise `InvalidStoreKey` unless `text` is a string PostgreSQL holds in `max_bytes`."""
    if not isinstance(text, str):
        raise InvalidStoreKey(op, what, text, f"is a {type(text).__name__}, not a string")
    if problem := text_problem(text):
        raise InvalidStoreKey(op, what, text, problem)
    if len(text) * 4 > max_bytes and (size := len(text.encode())) > max_bytes:
        raise InvalidStoreKey(
            op,
            what,
            text,
            f"is {size} bytes, above the limit of {max_bytes} (ALMA_STORE_MAX_KEY_BYTES)",
        )


def check_namespace(op: int, namespace: Sequence[str], max_bytes: int) -> None:
    """Every label PostgreSQL can hold, and the dotted path within `max_bytes` (labels
    that are not strings are left to LangGraph's `InvalidNamespaceError`)."""
    labels = [label for label in namespace if isinstance(label, str)]
    for label in labels:
        check_text(op, "namespace label", label, max_bytes)
    check_text(op, "namespace", ".".join(labels), max_bytes)


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` nests dicts and lists deeper than `limit` (iterative: a value
    nested thousands deep never reaches Python's recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_page(op: int, limit: Any, offset: Any, max_limit: int) -> None:
    """`limit` and `offset`: integers in [0, max_limit]."""
    for name, n in (("limit", limit), ("offset", offset)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"op {op}: {name} must be a non-negative integer, got {n!r}")
        if n > max_limit:
            raise ConfigError(
                f"op {op}: {name} {n} is above the limit of {max_limit} (ALMA_STORE_MAX_LIMIT)"
            )


def check_max_depth(op: int, depth: Any) -> None:
    """`ListNamespacesOp.max_depth`: None or a non-negative integer."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ConfigError(
            f"op {op}: max_depth must be None or a non-negative integer, got {depth!r}"
        )


def ttl_problem(ttl: Any, max_minutes: float) -> str | None:
    """Why `ttl` (minutes) is not a usable TTL (None if it is)."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        return f"ttl must be a number of minutes, got {ttl!r}"
    if not math.isfinite(ttl) or ttl <= 0:
        return f"ttl must be a positive, finite number of minutes, got {ttl!r}"
    if ttl > max_minutes:
        return (
            f"ttl {ttl!r} is above the limit of {max_minutes} minutes (ALMA_STORE_MAX_TTL_MINUTES)"
        )
    return None


def trim_query(query: str, max_words: int) -> str:
    """`query` itself if it has at most `max_words` words (none longer than
    `MAX_WORD_CHARS`); else its most informative words, in their order of first
    appearance: distinct words, stop words dropped first, then those said once, then the
    shortest.

    >>> trim_query("the tea, the TEA and the lemon", 5)
    'the tea and lemon'
    """
    words = _WORD.findall(query)
    if len(words) <= max_words and all(len(w) <= MAX_WORD_CHARS for w in words):
        return query
    counts = Counter(w.lower() for w in words if len(w) <= MAX_WORD_CHARS)
    distinct = list(counts)  # in order of first appearance
    if len(distinct) > max_words:
        # content words before stop words; then the words the text repeats (its topic),
        # then the longer (rarer) ones
        ranked = sorted(
            range(len(distinct)),
            key=lambda i: (distinct[i] in STOP_WORDS, -counts[distinct[i]], -len(distinct[i]), i),
        )
        keep = set(ranked[:max_words])
        distinct = [w for i, w in enumerate(distinct) if i in keep]
    return " ".join(distinct)
