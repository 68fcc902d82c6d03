"""Extraction: turn a conversation or run transcript into ALMA memories (heuristics,
anti-patterns, user preferences, domain knowledge, outcomes).

Holds the `Extractor` protocol and its `ExtractionResult` (`base`), an LLM extractor with
structured output (`openai`, needs the `openai` extra) and an offline rule-based fallback
(`rules`). Extractors only propose memories; the caller scopes and stores them. May import
`memory.types`, `errors` and `config`; never the store or the saver.

>>> extractor = default_extractor()                                      # doctest: +SKIP
>>> result = extractor.extract(messages, agent="helena", user_id="u1")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph_alma.config import Settings, get_settings
from langgraph_alma.errors import ConfigError, ExtractionError
from langgraph_alma.extraction.base import (
    UNKNOWN_USER,
    ExtractionResult,
    Extractor,
    Transcript,
    render_transcript,
)
from langgraph_alma.extraction.rules import RuleBasedExtractor

if TYPE_CHECKING:
    from langgraph_alma.extraction.openai import OpenAIExtractor

__all__ = [
    "UNKNOWN_USER",
    "ExtractionError",
    "ExtractionResult",
    "Extractor",
    "OpenAIExtractor",
    "RuleBasedExtractor",
    "Transcript",
    "default_extractor",
    "render_transcript",
]


def __getattr__(name: str) -> Any:
    # `openai` is an optional extra: import it only when the LLM extractor is asked for.
    if name == "OpenAIExtractor":
        from langgraph_alma.extraction.openai import OpenAIExtractor

        return OpenAIExtractor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_extractor(settings: Settings | None = None) -> Extractor:
    """`OpenAIExtractor` when an API key is configured (`ALMA_OPENAI_API_KEY` or
    `OPENAI_API_KEY`), else `RuleBasedExtractor`.

    >>> default_extractor(Settings(openai_api_key=None))
    RuleBasedExtractor()
    """
    settings = settings or get_settings()
    if settings.openai_api_key is None:
        return RuleBasedExtractor()
    try:
        from langgraph_alma.extraction.openai import OpenAIExtractor
    except ImportError as exc:
        # A key says the user wants the LLM; quietly using regexes instead would hide that.
        raise ConfigError(
            "an OpenAI API key is configured but the `openai` package is not installed; "
            "install langgraph-alma[openai] or unset OPENAI_API_KEY/ALMA_OPENAI_API_KEY"
        ) from exc
    return OpenAIExtractor(
        model=settings.extraction_model,
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
    )
