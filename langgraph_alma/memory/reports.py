"""Reporting an anti-pattern a learn ran into: an `AntiPatternWarning` pointing at the
caller's line, or, inside `anti_patterns_logged` (servers), one structured log record."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any


class AntiPatternWarning(UserWarning):
    """A learned outcome repeats a known failure; the outcome was still recorded."""


def _package_dirs(module: str) -> list[str]:
    spec = importlib.util.find_spec(module)
    found = list(spec.submodule_search_locations or []) if spec else []  # namespace too
    return [str(Path(d).resolve()) + os.sep for d in found]


# Frames a warning skips to reach the user's line: ours, and LangGraph's runner when a
# prebuilt node learned inside the user's graph.invoke.
_LIBRARY_DIRS = tuple(
    d for m in ("langgraph_alma", "langgraph", "langchain_core") for d in _package_dirs(m)
)
_anti_pattern_log: ContextVar[logging.Logger | None] = ContextVar(
    "alma_anti_pattern_log", default=None
)


@contextlib.contextmanager
def anti_patterns_logged(logger: logging.Logger) -> Iterator[None]:
    """Within this block (and the tasks and threads it starts), an anti-pattern is one
    WARNING record on `logger` instead of an `AntiPatternWarning`: for servers, where a
    warning per call would print two lines and grow Python's warning registry forever.

    >>> with anti_patterns_logged(logging.getLogger("alma.mcp")):    # doctest: +SKIP
    ...     await serve()
    """
    token = _anti_pattern_log.set(logger)
    try:
        yield
    finally:
        _anti_pattern_log.reset(token)


def anti_pattern_warning(message: str, **fields: Any) -> None:
    """Report an anti-pattern: a log record inside `anti_patterns_logged`, else an
    `AntiPatternWarning` pointing at the caller's own line (the first frame outside
    langgraph_alma)."""
    logger = _anti_pattern_log.get()
    if logger is not None:
        logger.warning("alma anti-pattern %s", json.dumps({"message": message, **fields}))
        return
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, AntiPatternWarning, stacklevel=level)
