"""The chat model the examples talk to: OpenAI's when a key is configured, else a scripted
stand-in that runs offline and answers deterministically from its prompt.

`ScriptedChatModel` reads the memories an agent put in its system messages (the `- ...`
lines of `MemorySlice.to_prompt()`), so its replies visibly depend on what was retrieved:
it repeats the facts it was given and keeps to one line when a remembered preference asks
for concise answers.

>>> from _scripted_model import chat_model
>>> chat_model().invoke("Which database should I use?").content    # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import SimpleChatModel
from langchain_core.messages import BaseMessage

from langgraph_alma.config import get_settings

# A memory line of `MemorySlice.to_prompt()`: "- [category] text" or "- text".
_MEMORY_LINE = re.compile(r"^-\s+(?:\[[^\]]*\]\s+)?(?P<text>.+)$")
_CONCISE = ("concise", "short", "brief")
# First person in what the user said is second person in what the assistant says.
_PERSON = {"my": "your", "i": "you", "i'm": "you're", "me": "you", "mine": "yours"}


def remembered(messages: list[BaseMessage]) -> list[str]:
    """The memory lines of the system messages, in order, without bullet and category."""
    found: list[str] = []
    for message in messages:
        if message.type != "system":
            continue
        for line in message.text.splitlines():
            if (m := _MEMORY_LINE.match(line.strip())) and m["text"] not in found:
                found.append(m["text"])
    return found


def second_person(text: str) -> str:
    """'My project uses PostgreSQL' -> 'your project uses PostgreSQL'."""
    return re.sub(r"\b(my|i'm|i|me|mine)\b", lambda m: _PERSON[m[0].lower()], text, flags=re.I)


class ScriptedChatModel(SimpleChatModel):
    """A deterministic chat model with no network: statements are acknowledged; a question
    is answered from the memories in the system messages (facts repeated, preferences
    followed), or generically, at length, when there are none.

    >>> ScriptedChatModel().invoke("hello").content
    'Noted.'
    """

    @property
    def _llm_type(self) -> str:
        return "alma-scripted"

    def _call(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> str:
        said = next((m.text for m in reversed(messages) if m.type == "human"), "").strip()
        memories = remembered(messages)
        concise = any(word in m.lower() for m in memories for word in _CONCISE)
        if not said.endswith("?"):
            return "Noted." if concise or not memories else "Noted. I will keep that in mind."
        facts = [second_person(m) for m in memories if not m.lower().startswith("prefer")]
        if facts:
            answer = f"Going by what I know ({'; '.join(facts)}), start from what you already have."
        else:
            answer = "I know nothing about your setup yet, so only in general terms."
        if concise:
            return answer
        return (
            f"{answer} Here is the longer version. First, list the constraints that matter "
            "to you; then compare the options against them one by one; finally, try the "
            "best candidate on a small, real piece of the work before committing to it."
        )


def chat_model() -> BaseChatModel:
    """`ChatOpenAI` when an OpenAI key is configured (`OPENAI_API_KEY` or
    `ALMA_OPENAI_API_KEY`) and `langchain_openai` is installed; else `ScriptedChatModel`."""
    settings = get_settings()
    if settings.openai_api_key is not None:
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            pass  # the key may be meant for extraction only; the examples still run
        else:
            return ChatOpenAI(
                model="gpt-4o-mini",
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
            )
    return ScriptedChatModel()
