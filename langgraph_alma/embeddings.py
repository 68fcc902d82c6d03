"""Embeddings that need no network: `HashingEmbeddings`, a deterministic bag of stemmed
words (stop words dropped) and character trigrams hashed into a fixed number of dimensions.

It captures lexical overlap, including word variants ("tests", "testing") that full-text
search stems apart, so hybrid search has a real vector side offline (tests, demos, air-gapped
use). For semantic similarity pass any LangChain `Embeddings` (e.g. OpenAI's) instead.

>>> e = HashingEmbeddings(dims=64)
>>> len(e.embed_query("retry the flaky login test"))
64

`index_config` turns an embeddings choice (an object, a function, `"hashing:256"`, or
LangChain's `"provider:model"`) into a store index config; `ALMA_EMBEDDINGS` is the
choice of the CLI, the MCP server and the Studio factories.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import IndexConfig

from langgraph_alma.errors import ConfigError

_WORD = re.compile(r"[a-z0-9]+")
# Words too common to say what a text is about.
_STOP = frozenset(
    "a an and are as at be by do does for from how in is it of on or our that the this to "
    "was we were what when which who why will with you your".split()
)
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def _stem(word: str) -> str:
    """A crude English stem, enough for 'invoices' to meet 'invoice'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


class HashingEmbeddings(Embeddings):
    """Deterministic offline embeddings (see the module docstring)."""

    def __init__(self, dims: int = 256) -> None:
        if dims <= 0:
            raise ValueError(f"dims must be positive, got {dims}")
        self.dims = dims

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        feats = [(f"w:{_stem(w)}", 1.0) for w in words]
        for w in words:
            padded = f"^{w}$"
            feats += [(f"g:{padded[i : i + 3]}", 0.3) for i in range(len(padded) - 2)]
        return feats

    def embed_query(self, text: str) -> list[float]:
        vec = [0.0] * self.dims
        for feat, weight in self._features(text):
            digest = hashlib.blake2b(feat.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dims
            vec[bucket] += weight if digest[4] & 1 else -weight
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


HASHING = "hashing"
"""The embeddings name of `HashingEmbeddings`: `"hashing"` or `"hashing:<dims>"`."""


def index_config(
    embeddings: Embeddings | Callable[..., Any] | str | None, dims: int | None = None
) -> IndexConfig | None:
    """The store index config for `embeddings` (None: no vectors, full text only).

    >>> index_config("hashing:128")["dims"]
    128
    >>> index_config("openai:text-embedding-3-small", dims=1536)["embed"]
    'openai:text-embedding-3-small'
    """
    if embeddings is None:
        return None
    if isinstance(embeddings, str):
        name, _, size = embeddings.partition(":")
        if name == HASHING:
            try:
                dims = int(size) if size else dims or 256
            except ValueError:
                raise ConfigError(f"bad embeddings {embeddings!r}: use 'hashing:<dims>'") from None
            if dims <= 0:
                raise ConfigError(f"bad embeddings {embeddings!r}: dims must be positive")
            return {"dims": dims, "embed": HashingEmbeddings(dims), "fields": ["text"]}
        if not size:
            raise ConfigError(f"bad embeddings {embeddings!r}: use 'provider:model' or 'hashing'")
        if dims is None:
            raise ConfigError("embedding_dims is needed with a 'provider:model' embeddings name")
    elif dims is None:
        probe = (
            embeddings.embed_query("dimension probe")
            if isinstance(embeddings, Embeddings)
            else embeddings(["dimension probe"])[0]
        )
        dims = len(probe)
    return {"dims": dims, "embed": embeddings, "fields": ["text"]}
