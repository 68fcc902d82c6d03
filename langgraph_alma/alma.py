"""The ALMA facade: `Alma` (sync) and `AsyncAlma` (async), ALMA's public API on top of
`AlmaStore` (memories) and `AlmaSaver` (checkpoints).

Both drive the same `MemoryCore` plans; they differ only in how a batch of store ops runs.

>>> with Alma.connect(project_id="checkout", scopes={"helena": MemoryScope(
...         agent_name="helena", can_learn=["testing"])}) as alma:        # doctest: +SKIP
...     alma.learn("helena", "test the login form", "success", "happy path first",
...                task_type="testing")
...     print(alma.retrieve("test the signup form", agent="helena").to_prompt())
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.embeddings import index_config
from langgraph_alma.errors import ConfigError
from langgraph_alma.extraction import default_extractor
from langgraph_alma.graph import AsyncGraphMemory, GraphMemory
from langgraph_alma.memory import consolidate as consolidation
from langgraph_alma.memory._plan import arun_store_plan, run_store_plan
from langgraph_alma.memory.core import Clock, MemoryCore
from langgraph_alma.memory.decay import ForgetPolicy, Usage
from langgraph_alma.memory.scope import MemoryScope, RetrievalScope
from langgraph_alma.memory.scoring import SLICE_FIELDS, MemorySlice, ScoringWeights
from langgraph_alma.memory.types import (
    ArtifactRef,
    DomainKnowledge,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)
from langgraph_alma.store import AlmaStore, AsyncAlmaStore
from langgraph_alma.workflow.checkpoints import CheckpointManager, CheckpointRecord
from langgraph_alma.workflow.context import WorkflowContext
from langgraph_alma.workflow.core import WORKFLOW_TASK_TYPE, WorkflowCore, merge_states

# One agent's memories of one kind are a namespace; ranking up to this many of them
# exactly (a few ms) beats walking the HNSW index filtered to a small slice of it.
MEMORY_EXACT_SEARCH_MAX = 10_000


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
    embeddings: str | None = Field(default=None, description='"provider:model" or none')
    embedding_dims: int | None = Field(default=None, gt=0)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    domain: str | None = Field(default=None, description="a preset domain schema name")
    weights: ScoringWeights = Field(default_factory=ScoringWeights)

    @classmethod
    def load(cls, path: str | Path) -> AlmaConfig:
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
        return {n: MemoryScope(agent_name=n, **a.model_dump()) for n, a in self.agents.items()}


def _core_kwargs(
    tenant_id: str,
    project_id: str,
    scopes: Mapping[str, MemoryScope] | None,
    store: Any,
    weights: ScoringWeights | None,
    policy: ForgetPolicy | None,
    clock: Clock | None,
    domain: Any,
) -> dict[str, Any]:
    merged = dict(scopes or {})
    check = default_scope = None
    if domain is not None:
        default_scope = domain.scope_for
        # The schema's agents share and inherit in retrieval too; `scopes=` wins.
        merged = {**domain.scopes(), **merged}

        def check(agent: str, category: str) -> None:
            domain.scope_for(agent).check(category)

    return {
        "tenant_id": tenant_id,
        "project_id": project_id,
        "scopes": merged,
        "weights": weights,
        "policy": policy,
        "clock": clock,
        "category_check": check,
        "default_scope": default_scope,
        "privileged": bool(getattr(getattr(store, "_core", None), "privileged", False)),
    }


def merge_slices(slices: list[MemorySlice], top_k: int) -> MemorySlice:
    """One slice from several (one per tenant for GLOBAL retrieval), best scores kept."""
    merged = MemorySlice(
        query=slices[0].query if slices else None, agent=slices[0].agent if slices else None
    )
    for name in SLICE_FIELDS.values():
        found = [m for s in slices for m in getattr(s, name)]
        found.sort(key=lambda m: -m.metadata.get("score", 0.0))
        setattr(merged, name, found[:top_k])
    for s in slices:
        merged.scores.update(s.scores)
    return merged


class _AlmaBase:
    """What `Alma` and `AsyncAlma` share: the memory core and the graph on the store's
    connections. Subclasses name their graph class and exit stack."""

    _graph_class: type[GraphMemory] | type[AsyncGraphMemory]
    _exit_class: type[contextlib.ExitStack] | type[contextlib.AsyncExitStack]

    def __init__(
        self,
        store: AlmaStore | AsyncAlmaStore,
        saver: AlmaSaver | AsyncAlmaSaver | None = None,
        *,
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        weights: ScoringWeights | None = None,
        policy: ForgetPolicy | None = None,
        clock: Clock | None = None,
        domain: Any = None,
        graph: Any = None,
        extractor: Any = None,
    ) -> None:
        self.store, self.saver, self.domain, self.extractor = store, saver, domain, extractor
        tenant = store.tenant_id or "default"
        self.core = MemoryCore(
            **_core_kwargs(tenant, project_id, scopes, store, weights, policy, clock, domain)
        )
        self.graph = (
            graph
            if graph is not None
            else self._graph_class(
                store.conn, tenant_id=tenant, project_id=project_id, schema=domain
            )
        )


class Alma(_AlmaBase):
    """ALMA's API, sync. Build it with `Alma.connect(...)`, `Alma.from_config(path)` or
    `Alma(store, saver=...)` from an `AlmaStore` you already have."""

    _graph_class = GraphMemory
    _exit_class = contextlib.ExitStack

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        tenant_id: str = "default",
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        embeddings: Embeddings | Callable | str | None = None,
        *,
        embedding_dims: int | None = None,
        setup: bool = True,
        **kwargs: Any,
    ) -> Alma:
        """Open a store and a saver (embedded server when no URL) and run migrations.
        Close it with `close()` or use it as a context manager."""
        stack = contextlib.ExitStack()
        try:
            store = stack.enter_context(
                AlmaStore.from_conn_string(
                    url,
                    index=index_config(embeddings, embedding_dims),
                    tenant_id=tenant_id,
                    exact_search_max=MEMORY_EXACT_SEARCH_MAX,
                )
            )
            saver = stack.enter_context(AlmaSaver.from_conn_string(url, tenant_id=tenant_id))
            if setup:
                store.setup()
            alma = cls(store, saver, project_id=project_id, scopes=scopes, **kwargs)
        except BaseException:
            stack.close()
            raise
        alma._exit = stack
        return alma

    @classmethod
    def from_config(cls, path: str | Path = ".alma/config.yaml", **kwargs: Any) -> Alma:
        """Build from a YAML config (database URL, embeddings, agents, domain)."""
        config = AlmaConfig.load(path)
        domain = None
        if config.domain:
            from langgraph_alma.domains import DomainMemoryFactory

            domain = DomainMemoryFactory.get_preset(config.domain)
        return cls.connect(
            config.database_url,
            config.tenant_id,
            config.project_id,
            config.scopes(),
            config.embeddings,
            embedding_dims=config.embedding_dims,
            weights=config.weights,
            domain=domain,
            **kwargs,
        )

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> Alma:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, plan: Any) -> Any:
        return run_store_plan(self.store, plan)

    def retrieve(
        self,
        task: str,
        agent: str,
        project_id: str | None = None,
        user_id: str | None = None,
        top_k: int = 5,
        context: Any = None,
        scope: RetrievalScope | str = RetrievalScope.AGENT,
        include_workflow_outcomes: bool = False,
        follow_relationships: int = 0,
        record_use: bool = True,
    ) -> MemorySlice:
        """Memories relevant to `task` for `agent`, scored, best first; with
        `follow_relationships=N`, also the graph N hops around entities the task names.
        Each memory returned counts a use; `record_use=False` writes nothing (a replica)."""
        args = (task, agent, project_id, user_id, top_k, context)
        if RetrievalScope(scope) is RetrievalScope.GLOBAL:
            self.core.require_privilege()
            return merge_slices(
                [
                    run_store_plan(
                        self.store.for_tenant(t),
                        self.core.retrieve(
                            *args,
                            scope=RetrievalScope.TENANT,
                            include_workflow_outcomes=include_workflow_outcomes,
                            record_use=record_use,
                        ),
                    )
                    for t in self.store.list_tenants()
                ],
                top_k,
            )
        found = self._run(
            self.core.retrieve(
                *args,
                scope=scope,
                include_workflow_outcomes=include_workflow_outcomes,
                record_use=record_use,
            )
        )
        if follow_relationships > 0:
            matched = self.graph.find_entities(text=task, limit=top_k, any_word=True)
            if matched:
                sub = self.graph.expand([e.name for e in matched], depth=follow_relationships)
                found.related = sub.describe().splitlines()
        return found

    def learn(
        self,
        agent: str,
        task: str,
        outcome: str | bool,
        strategy_used: str,
        task_type: str | None = None,
        duration_ms: int | None = None,
        error_message: str | None = None,
        feedback: str | None = None,
        context: Any = None,
    ) -> Outcome:
        """Record an outcome; learn or update the heuristic and anti-pattern it supports."""
        return self._run(
            self.core.learn(
                agent,
                task,
                outcome,
                strategy_used,
                task_type,
                duration_ms,
                error_message,
                feedback,
                context,
            )
        )

    def learn_from_conversation(
        self, transcript: Any, agent: str, user_id: str | None = None, extractor: Any = None
    ) -> list[Any]:
        """Extract heuristics, anti-patterns, preferences, knowledge and outcomes from a
        conversation (a string or LangChain messages) and store them; nothing is stored
        when extraction fails or a memory falls outside the agent's scope."""
        extractor = extractor or self.extractor or default_extractor()
        found = extractor.extract(transcript, agent=agent, user_id=user_id)
        return self._run(self.core.remember(found.memories, agent))

    def add_user_preference(
        self, user_id: str, category: str, preference: str, source: str = "explicit_instruction"
    ) -> UserPreference:
        return self._run(self.core.add_user_preference(user_id, category, preference, source))

    def add_domain_knowledge(
        self, agent: str, domain: str, fact: str, source: str = "user_stated"
    ) -> DomainKnowledge:
        return self._run(self.core.add_domain_knowledge(agent, domain, fact, source))

    def forget(
        self, agent: str | None = None, older_than_days: float = 90, below_confidence: float = 0.3
    ) -> int:
        """Remove decayed and policy-named memories; returns how many (audited)."""
        return self._run(self.core.forget(agent, older_than_days, below_confidence))

    def forget_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._run(self.core.forget_audit(limit))

    def get_stats(self, agent: str | None = None) -> dict[str, Any]:
        return self._run(self.core.get_stats(agent))

    def record_feedback(self, memory_id: str, signal: str | float) -> Usage:
        return self._run(self.core.record_feedback(memory_id, signal))

    def consolidate(
        self,
        kind: str,
        agent: str | None = None,
        threshold: float = consolidation.DEFAULT_THRESHOLD,
        dry_run: bool = False,
    ) -> consolidation.ConsolidationReport:
        """Merge near-duplicate memories of one kind (one agent's, when given) whose
        embeddings are at least `threshold` cosine-similar; `dry_run` only reports.

        >>> alma.consolidate("domain_knowledge", agent="helena").removed   # doctest: +SKIP
        2
        """
        found = self._run(consolidation.scan(self.core, kind, agent))
        vectors = consolidation.embedder_of(self.store).embed_documents(found.texts)
        return self._run(consolidation.apply(self.core, found, vectors, threshold, dry_run))

    # -- workflow (langgraph_alma.workflow) ----------------------------------------
    def _workflow_saver(self) -> AlmaSaver:
        if self.saver is None:  # checkpoints share the store's connections and tenant
            self.saver = AlmaSaver(self.store.conn, tenant_id=self.core.tenant_id)
        return self.saver

    def _checkpoints(self) -> tuple[AlmaSaver, CheckpointManager]:
        saver = self._workflow_saver()
        return saver, CheckpointManager(saver._core, project_id=self.core.project_id)

    def checkpoint(
        self,
        ctx: WorkflowContext,
        node_id: str,
        state: dict[str, Any],
        *,
        branch_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        skip_if_unchanged: bool = True,
    ) -> CheckpointRecord | None:
        """Record the state `node_id` left on run `ctx.run_id` as a LangGraph checkpoint
        numbered by the database; None when unchanged since the branch's last one.

        >>> alma.checkpoint(ctx, "plan", {"steps": ["a"]}).seq                 # doctest: +SKIP
        1
        """
        saver, manager = self._checkpoints()
        plan = manager.checkpoint(
            ctx,
            node_id,
            state,
            branch_id=branch_id,
            metadata=metadata,
            skip_if_unchanged=skip_if_unchanged,
        )
        return saver._run(plan, transaction=True)

    def get_resume_point(
        self, run_id: str, branch_id: str | None = None
    ) -> CheckpointRecord | None:
        """The last checkpoint of a run's branch (state, seq, node, pending writes)."""
        saver, manager = self._checkpoints()
        return saver._run(manager.resume_point(run_id, branch_id))

    def cleanup_checkpoints(self, run_id: str, keep_latest: int = 1) -> int:
        """Keep the newest `keep_latest` checkpoints of each branch; returns how many went."""
        saver, manager = self._checkpoints()
        return saver._run(manager.cleanup(run_id, keep_latest), transaction=True)

    def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | dict[str, Any],
        cleanup_checkpoints: bool = True,
        agent: str | None = None,
        task_type: str = WORKFLOW_TASK_TYPE,
    ) -> WorkflowOutcome:
        """Store how a run ended and learn from its patterns (as `agent`'s outcomes on
        `task_type`, which the agent's scope and domain must allow); prune its checkpoints.

        >>> alma.learn_from_workflow(ctx, {"result": "success",
        ...     "successful_patterns": ["retry flaky steps"]}, agent="helena")  # doctest: +SKIP
        """
        plan = WorkflowCore(self.core).learn_from_workflow(ctx, outcome, agent, task_type)
        record = self._run(plan)
        if cleanup_checkpoints:
            self.cleanup_checkpoints(str(ctx.run_id))
        return record

    def link_artifact(
        self,
        memory_id: str,
        artifact_type: str,
        storage_url: str,
        checksum: str | None = None,
        size_bytes: int | None = None,
        mime_type: str | None = None,
    ) -> ArtifactRef:
        """Link an artifact to a memory (scoped like it); unknown id: `MemoryNotFound`."""
        plan = WorkflowCore(self.core).link_artifact(
            memory_id, artifact_type, storage_url, checksum, size_bytes, mime_type
        )
        return self._run(plan)

    def get_artifacts(self, memory_id: str) -> list[ArtifactRef]:
        return self._run(WorkflowCore(self.core).get_artifacts(memory_id))

    def merge_states(
        self, ctx: WorkflowContext | None, states: list[dict[str, Any]], config: Any = None
    ) -> dict[str, Any]:
        """Merge parallel branch states with named reducers (a `ReducerConfig`)."""
        if ctx is not None:
            ctx.validate()
        return merge_states(states, config)


class AsyncAlma(_AlmaBase):
    """ALMA's API, async (`await alma.retrieve(...)`); see `Alma`."""

    _graph_class = AsyncGraphMemory
    _exit_class = contextlib.AsyncExitStack

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        tenant_id: str = "default",
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        embeddings: Embeddings | Callable | str | None = None,
        *,
        embedding_dims: int | None = None,
        setup: bool = True,
        **kwargs: Any,
    ) -> AsyncAlma:
        """Async `Alma.connect`; close with `await aclose()` or `async with`."""
        stack = contextlib.AsyncExitStack()
        try:
            store = await stack.enter_async_context(
                AsyncAlmaStore.from_conn_string(
                    url,
                    index=index_config(embeddings, embedding_dims),
                    tenant_id=tenant_id,
                    exact_search_max=MEMORY_EXACT_SEARCH_MAX,
                )
            )
            saver = await stack.enter_async_context(
                AsyncAlmaSaver.from_conn_string(url, tenant_id=tenant_id)
            )
            if setup:
                await store.setup()
            alma = cls(store, saver, project_id=project_id, scopes=scopes, **kwargs)
        except BaseException:
            await stack.aclose()
            raise
        alma._exit = stack
        return alma

    async def aclose(self) -> None:
        await self._exit.aclose()

    async def __aenter__(self) -> AsyncAlma:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, plan: Any) -> Any:
        return await arun_store_plan(self.store, plan)

    async def retrieve(
        self,
        task: str,
        agent: str,
        project_id: str | None = None,
        user_id: str | None = None,
        top_k: int = 5,
        context: Any = None,
        scope: RetrievalScope | str = RetrievalScope.AGENT,
        include_workflow_outcomes: bool = False,
        follow_relationships: int = 0,
        record_use: bool = True,
    ) -> MemorySlice:
        args = (task, agent, project_id, user_id, top_k, context)
        if RetrievalScope(scope) is RetrievalScope.GLOBAL:
            self.core.require_privilege()
            return merge_slices(
                [
                    await arun_store_plan(
                        self.store.for_tenant(t),
                        self.core.retrieve(
                            *args,
                            scope=RetrievalScope.TENANT,
                            include_workflow_outcomes=include_workflow_outcomes,
                            record_use=record_use,
                        ),
                    )
                    for t in await self.store.alist_tenants()
                ],
                top_k,
            )
        found = await self._run(
            self.core.retrieve(
                *args,
                scope=scope,
                include_workflow_outcomes=include_workflow_outcomes,
                record_use=record_use,
            )
        )
        if follow_relationships > 0:
            matched = await self.graph.find_entities(text=task, limit=top_k, any_word=True)
            if matched:
                sub = await self.graph.expand([e.name for e in matched], depth=follow_relationships)
                found.related = sub.describe().splitlines()
        return found

    async def learn(
        self,
        agent: str,
        task: str,
        outcome: str | bool,
        strategy_used: str,
        task_type: str | None = None,
        duration_ms: int | None = None,
        error_message: str | None = None,
        feedback: str | None = None,
        context: Any = None,
    ) -> Outcome:
        return await self._run(
            self.core.learn(
                agent,
                task,
                outcome,
                strategy_used,
                task_type,
                duration_ms,
                error_message,
                feedback,
                context,
            )
        )

    async def learn_from_conversation(
        self, transcript: Any, agent: str, user_id: str | None = None, extractor: Any = None
    ) -> list[Any]:
        """Async `Alma.learn_from_conversation`."""
        extractor = extractor or self.extractor or default_extractor()
        found = await extractor.aextract(transcript, agent=agent, user_id=user_id)
        return await self._run(self.core.remember(found.memories, agent))

    async def add_user_preference(
        self, user_id: str, category: str, preference: str, source: str = "explicit_instruction"
    ) -> UserPreference:
        return await self._run(self.core.add_user_preference(user_id, category, preference, source))

    async def add_domain_knowledge(
        self, agent: str, domain: str, fact: str, source: str = "user_stated"
    ) -> DomainKnowledge:
        return await self._run(self.core.add_domain_knowledge(agent, domain, fact, source))

    async def forget(
        self, agent: str | None = None, older_than_days: float = 90, below_confidence: float = 0.3
    ) -> int:
        return await self._run(self.core.forget(agent, older_than_days, below_confidence))

    async def forget_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        return await self._run(self.core.forget_audit(limit))

    async def get_stats(self, agent: str | None = None) -> dict[str, Any]:
        return await self._run(self.core.get_stats(agent))

    async def record_feedback(self, memory_id: str, signal: str | float) -> Usage:
        return await self._run(self.core.record_feedback(memory_id, signal))

    async def consolidate(
        self,
        kind: str,
        agent: str | None = None,
        threshold: float = consolidation.DEFAULT_THRESHOLD,
        dry_run: bool = False,
    ) -> consolidation.ConsolidationReport:
        """Async `Alma.consolidate`."""
        found = await self._run(consolidation.scan(self.core, kind, agent))
        vectors = await consolidation.embedder_of(self.store).aembed_documents(found.texts)
        return await self._run(consolidation.apply(self.core, found, vectors, threshold, dry_run))

    # -- workflow (langgraph_alma.workflow) ----------------------------------------
    def _checkpoints(self) -> tuple[AsyncAlmaSaver, CheckpointManager]:
        if self.saver is None:  # checkpoints share the store's connections and tenant
            self.saver = AsyncAlmaSaver(self.store.conn, tenant_id=self.core.tenant_id)
        return self.saver, CheckpointManager(self.saver._core, project_id=self.core.project_id)

    async def checkpoint(
        self,
        ctx: WorkflowContext,
        node_id: str,
        state: dict[str, Any],
        *,
        branch_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        skip_if_unchanged: bool = True,
    ) -> CheckpointRecord | None:
        """Async `Alma.checkpoint`."""
        saver, manager = self._checkpoints()
        plan = manager.checkpoint(
            ctx,
            node_id,
            state,
            branch_id=branch_id,
            metadata=metadata,
            skip_if_unchanged=skip_if_unchanged,
        )
        return await saver._arun(plan, transaction=True)

    async def get_resume_point(
        self, run_id: str, branch_id: str | None = None
    ) -> CheckpointRecord | None:
        saver, manager = self._checkpoints()
        return await saver._arun(manager.resume_point(run_id, branch_id))

    async def cleanup_checkpoints(self, run_id: str, keep_latest: int = 1) -> int:
        saver, manager = self._checkpoints()
        return await saver._arun(manager.cleanup(run_id, keep_latest), transaction=True)

    async def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | dict[str, Any],
        cleanup_checkpoints: bool = True,
        agent: str | None = None,
        task_type: str = WORKFLOW_TASK_TYPE,
    ) -> WorkflowOutcome:
        """Async `Alma.learn_from_workflow`."""
        plan = WorkflowCore(self.core).learn_from_workflow(ctx, outcome, agent, task_type)
        record = await self._run(plan)
        if cleanup_checkpoints:
            await self.cleanup_checkpoints(str(ctx.run_id))
        return record

    async def link_artifact(
        self,
        memory_id: str,
        artifact_type: str,
        storage_url: str,
        checksum: str | None = None,
        size_bytes: int | None = None,
        mime_type: str | None = None,
    ) -> ArtifactRef:
        plan = WorkflowCore(self.core).link_artifact(
            memory_id, artifact_type, storage_url, checksum, size_bytes, mime_type
        )
        return await self._run(plan)

    async def get_artifacts(self, memory_id: str) -> list[ArtifactRef]:
        return await self._run(WorkflowCore(self.core).get_artifacts(memory_id))

    async def merge_states(
        self, ctx: WorkflowContext | None, states: list[dict[str, Any]], config: Any = None
    ) -> dict[str, Any]:
        if ctx is not None:
            ctx.validate()
        return merge_states(states, config)


__all__ = ["AgentConfig", "Alma", "AlmaConfig", "AsyncAlma", "merge_slices"]
