"""Settings: one object read from arguments, `ALMA_*` environment variables and an
optional YAML file (`.alma/config.yaml` or `ALMA_CONFIG`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_CONFIG_FILE = Path(".alma/config.yaml")


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the `database:`-level keys of the YAML config file, when there is one."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("ALMA_CONFIG", DEFAULT_CONFIG_FILE))
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return {k: v for k, v in data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Runtime settings. Environment variables are the field names prefixed `ALMA_`."""

    model_config = SettingsConfigDict(env_prefix="ALMA_", extra="ignore", env_parse_none_str="none")

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; none starts the embedded server."
    )
    admin_database_url: str | None = Field(
        default=None,
        description="URL of a role allowed to run migrations (defaults to the app URL).",
    )
    data_dir: Path = Field(
        default=Path(".alma/pgdata"), description="Data directory of the embedded server."
    )
    tenant_id: str = Field(default="default", description="Tenant used when a call names none.")
    project_id: str = Field(
        default="default", description="Project of the `alma` CLI when --project names none."
    )
    debug: bool = Field(default=False, description="The `alma` CLI shows tracebacks.")
    max_state_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest serialized checkpoint state accepted."
    )
    delta_max_chain: int = Field(
        default=128,
        ge=0,
        description="Deltas after which a list channel stores an anchor (16 anchors: whole).",
    )
    cache_size: int = Field(
        default=2048, ge=0, description="Thread channels whose last list value a saver remembers."
    )
    prepare_threshold: int | None = Field(
        default=0,
        description="psycopg prepare threshold; none behind PgBouncer < 1.21.",
    )
    pool_max_size: int = Field(default=16, gt=0, description="Connections in a default pool.")
    # The OpenAI fields also read the SDK's own variables, so a key set for `openai` just works;
    # their own name is among the aliases so arguments and the YAML file can still use it.
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ALMA_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key"),
        description="API key of the LLM extractor; none uses the offline rule-based one.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ALMA_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url"),
        description="OpenAI-compatible endpoint (e.g. a local server); none is api.openai.com.",
    )
    extraction_model: str = Field(
        default="gpt-4o-mini", description="Chat model the LLM extractor asks for memories."
    )
    embeddings: str | None = Field(
        default="hashing:256",
        description="Embeddings of the CLI, MCP server and Studio factories: 'hashing:<dims>' "
        "(offline), a LangChain 'provider:model' (with embedding_dims), or none.",
    )
    embedding_dims: int | None = Field(
        default=None, gt=0, description="Dimensions of a 'provider:model' embeddings name."
    )
    mcp_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the MCP HTTP transport requires; needed to bind off loopback.",
    )
    writes_async_commit: bool = Field(
        default=True,
        description="A LangGraph run's pending writes commit without waiting for the WAL "
        "flush unless its durability is 'sync' (its next checkpoint flushes them).",
    )
    checkpoints_async_commit: bool = Field(
        default=True,
        description="A run's checkpoints with durability 'async' commit without waiting for "
        "the WAL flush while another step follows (the run's last one flushes them).",
    )
    checkpoint_ttl: dict[str, Any] | None = Field(
        default=None,
        description="Thread retention of the Studio factory's saver, as langgraph.json's "
        "`checkpointer.ttl` (JSON): strategy, default_ttl, sweep_interval_minutes, sweep_limit.",
    )
    langgraph_checkpointer: dict[str, Any] | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGGRAPH_CHECKPOINTER"),
        description="langgraph.json's `checkpointer` block as langgraph-api passes it to the "
        "server (LANGGRAPH_CHECKPOINTER); its `ttl` is used when ALMA_CHECKPOINT_TTL is unset.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="A streaming replica (application role) for store reads that write "
        "nothing and checkpoint history (`list`); used once it shows the process's own "
        "writes, else the primary answers.",
    )
    store_max_depth: int = Field(
        default=100, gt=0, description="Deepest nesting of dicts/lists in a store value or filter."
    )
    store_max_key_bytes: int = Field(
        default=1024, gt=0, le=2048, description="Longest store key or namespace path, in bytes."
    )
    store_max_query_words: int = Field(
        default=256, gt=0, description="Words a search query keeps (longer ones are trimmed)."
    )
    store_max_limit: int = Field(
        default=2**31 - 1, gt=0, le=2**31 - 1, description="Largest search/list limit or offset."
    )
    store_max_ttl_minutes: float = Field(
        default=100 * 366 * 24 * 60, gt=0, le=1e9, description="Longest item TTL, in minutes."
    )
    store_retry_attempts: int = Field(
        default=10, ge=1, description="Tries of a store batch that hit a deadlock or conflict."
    )
    store_batch_max_ops: int = Field(
        default=512, gt=0, description="Most operations an async store gathers into one batch."
    )
    store_batch_connections: int = Field(
        default=4,
        gt=0,
        description="Most gathered batches an async store on a pool runs at once, each on a "
        "connection of its own (capped by the pool's size): the database works on several "
        "while the event loop prepares the next (1: one batch at a time, as PostgresStore).",
    )
    text_search_config: str = Field(
        default="english",
        description="PostgreSQL text search configuration of AlmaStore's full text (documents "
        "and queries): 'english' stems and drops stop words; 'simple', 'french'... also work.",
    )
    search_text_weight: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Share of the gap to a perfect similarity a hybrid search hit's lexical "
        "strength closes (0: vector order only, with lexical hits as candidates).",
    )
    search_text_lead_weight: float = Field(
        default=0.9,
        ge=0,
        lt=1,
        description="Further share of the gap a hybrid search's lexical hits close when full "
        "text has a clear best hit and the vectors do not (scaled by both leads).",
    )
    search_vector_lead: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Lead of a hybrid search's best vector hit over the runner-up (as a share "
        "of the runner-up's gap to a perfect similarity) at which the vectors count as sure.",
    )
    rank_heuristics_by_confidence: bool = Field(
        default=True,
        description="Alma.retrieve and the prebuilt nodes order heuristics by the confidence "
        "engine's forward-looking score (blended with relevance); false: relevance order.",
    )
    store_index_deferred: bool = Field(
        default=True,
        description="AlmaStore puts leave their vectors' HNSW upkeep to a background indexer "
        "(searches rank the backlog exactly meanwhile); false: every put indexes inline.",
    )
    store_index_backlog_max: int = Field(
        default=5000,
        gt=0,
        description="Backlog rows per (tenant, dims) past which AlmaStore puts index their own "
        "vectors inline again (backpressure: searches rank the backlog exactly).",
    )
    store_ann_build_min: int = Field(
        default=5000,
        ge=0,
        description="AlmaStore builds a dims' HNSW index in bulk (setup(), its indexer, or "
        "index_backlog()) once this many of its vectors are past the exact bound; until "
        "then searches rank exactly and puts pay no HNSW upkeep. 0: setup() builds it at "
        "once (PostgresStore's way), as it does for a store on a single connection. Only "
        "with store_index_deferred.",
    )
    store_index_chunk: int = Field(
        default=200,
        gt=0,
        description="Backlog rows the indexer moves into the HNSW index per transaction.",
    )
    store_index_chunk_seconds: float = Field(
        default=0.02,
        gt=0,
        description="On a store's single connection, the background indexer's time per "
        "chunk: it sizes each chunk (up to `store_index_chunk` rows) from the last ones' "
        "time per row and starts one only when the connection has been free this long.",
    )
    store_sweep_chunk: int = Field(
        default=1000,
        gt=0,
        description="Expired items the store's TTL sweep deletes per transaction; the "
        "store's connection is free between them.",
    )
    store_index_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the background indexer's rounds.",
    )
    store_index_background: bool = Field(
        default=True,
        description="An AlmaStore starts its background indexer (a thread, or a task on its "
        "loop) when a put first defers rows; false: only `index_backlog()` drains it.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))


def get_settings() -> Settings:
    """Current settings, read from the environment and the config file."""
    return Settings()
