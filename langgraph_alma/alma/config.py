"""`.alma/config.yaml` as typed models: `AlmaConfig` (database, tenant, project,
embeddings, agents, domain, scoring weights) and each agent's `AgentConfig`.

>>> AlmaConfig.load(".alma/config.yaml").scopes()["helena"].can_learn   # doctest: +SKIP
['testing']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langgraph_alma.errors import ConfigError
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.memory.scoring import ScoringWeights


class AgentConfig(BaseModel):
    """One agent's MemoryScope as written in the YAML config."""

    model_config = ConfigDict(extra="forbid")
    can_learn: list[str] = Field(default_factory=list)
    cannot_learn: list[str] = Field(default_factory=list)
    share_with: list[str] = Field(default_factory=list)
    inherit_from: list[str] = Field(default_factory=list)
    min_occurrences_for_heuristic: int = Field(default=3, ge=1)


class AlmaConfig(BaseModel):
    """`.alma/config.yaml`: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
    database_url: str | None = None
    tenant_id: str = "default"
    project_id: str = "default"
    embeddings: str | None = Field(
        default=None,
        description='"hashing:<dims>", "provider:model" or "none"; unset: ALMA_EMBEDDINGS '
        "(hashing:256)",
    )
    embedding_dims: int | None = Field(default=None, gt=0)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    domain: str | None = Field(default=None, description="a preset domain schema name")
    weights: ScoringWeights = Field(default_factory=ScoringWeights)

    @classmethod
    def load(cls, path: str | Path) -> AlmaConfig:
        """Read and validate `path`; `ConfigError` names every problem."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read ALMA config {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from exc

    def scopes(self) -> dict[str, MemoryScope]:
        """Each configured agent's `MemoryScope`, by name."""
        return {n: MemoryScope(agent_name=n, **a.model_dump()) for n, a in self.agents.items()}


def default_embeddings(
    embeddings: Embeddings | Callable[..., Any] | str | None, dims: int | None
) -> tuple[Embeddings | Callable[..., Any] | str | None, int | None]:
    """The embeddings `Alma.connect` uses: the given ones; for None, the `ALMA_EMBEDDINGS`
    setting (`hashing:256` unless set) with its dims; `"none"` for full text only (None).

    >>> default_embeddings("none", None)
    (None, None)
    """
    if embeddings is None:
        from langgraph_alma.config import get_settings

        settings = get_settings()
        embeddings, dims = settings.embeddings, dims or settings.embedding_dims
    if isinstance(embeddings, str) and embeddings.strip().lower() == "none":
        return None, None
    return embeddings, dims
