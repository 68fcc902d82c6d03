"""What an agent may learn (`MemoryScope`) and how far a retrieval reaches
(`RetrievalScope`)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from langgraph_alma.errors import ScopeViolation

__all__ = ["MemoryScope", "RetrievalScope", "ScopeViolation", "readable_agents"]


class MemoryScope(BaseModel):
    """What one agent may learn, and whose memories it reads.

    `can_learn` empty means every category not in `cannot_learn`. `share_with` lists the
    agents that may read this agent's memories; `inherit_from` the agents whose memories
    this agent reads.

    >>> MemoryScope(agent_name="helena", can_learn=["testing"]).is_allowed("deploys")
    False
    """

    model_config = ConfigDict(extra="forbid")

    agent_name: str
    can_learn: list[str] = Field(default_factory=list)
    cannot_learn: list[str] = Field(default_factory=list)
    share_with: list[str] = Field(default_factory=list)
    inherit_from: list[str] = Field(default_factory=list)
    min_occurrences_for_heuristic: int = Field(default=3, ge=1)

    @field_validator("agent_name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise ValueError("agent_name must not be empty")
        return value

    def is_allowed(self, category: str) -> bool:
        """May this agent learn `category`?"""
        if category in self.cannot_learn:
            return False
        return not self.can_learn or category in self.can_learn

    def check(self, category: str) -> None:
        """Raise `ScopeViolation` unless this agent may learn `category`."""
        if category in self.cannot_learn:
            raise ScopeViolation(self.agent_name, category, "it is in cannot_learn")
        if self.can_learn and category not in self.can_learn:
            raise ScopeViolation(
                self.agent_name, category, f"can_learn is limited to {self.can_learn}"
            )


def readable_agents(agent: str, scopes: dict[str, MemoryScope]) -> list[str]:
    """The agents whose memories `agent` reads: itself, those it inherits from, and
    those that share with it."""
    found = [agent]
    own = scopes.get(agent)
    if own is not None:
        found += own.inherit_from
    found += [name for name, s in scopes.items() if agent in s.share_with]
    return list(dict.fromkeys(found))


class RetrievalScope(StrEnum):
    """How far a retrieval reaches, narrowest first: node < run < workflow < agent <
    tenant < global (every tenant; privileged stores only)."""

    NODE = "node"
    RUN = "run"
    WORKFLOW = "workflow"
    AGENT = "agent"
    TENANT = "tenant"
    GLOBAL = "global"
