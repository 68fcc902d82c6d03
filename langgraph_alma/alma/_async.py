"""`AsyncAlma`: ALMA's API, async. This file is the source of truth: `_sync.py` (`Alma`)
is generated from it by `scripts/unasync.py`, and a test fails when it is stale.

Every method drives `MemoryCore` (or workflow) plans on the store or the saver; the only
thing async about it is how a batch of store ops runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.embeddings import Embeddings

from langgraph_alma.alma._base import (
    MEMORY_EXACT_SEARCH_MAX,
    AlmaBase,
    heuristic_ranking,
    merge_slices,
)
from langgraph_alma.alma.config import AlmaConfig, default_embeddings
from langgraph_alma.checkpoint import AsyncAlmaSaver
from langgraph_alma.domains.schema import DomainSchema
from langgraph_alma.embeddings import index_config
from langgraph_alma.extraction import Extractor, Transcript, default_extractor
from langgraph_alma.graph import AsyncGraphMemory
from langgraph_alma.memory import consolidate as consolidation
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.plan import StorePlan, arun_store_plan, astore_atomic
from langgraph_alma.memory.scope import MemoryScope, RetrievalScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import (
    ArtifactRef,
    DomainKnowledge,
    Memory,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)
from langgraph_alma.store import AsyncAlmaStore
from langgraph_alma.workflow.checkpoints import CheckpointManager, CheckpointRecord
from langgraph_alma.workflow.context import WorkflowContext, needs_workflow, with_workflow
from langgraph_alma.workflow.core import (
    WORKFLOW_TASK_TYPE,
    WorkflowCore,
    merge_shared,
    merge_states,
)

T = TypeVar("T")


class AsyncAlma(AlmaBase):
    """ALMA's API, async. Build it with `await AsyncAlma.connect(...)`,
    `await AsyncAlma.from_config(path)` or `AsyncAlma(store, saver=...)` from an
    `AsyncAlmaStore` you already have.

    >>> async with await AsyncAlma.connect(project_id="checkout") as alma:  # doctest: +SKIP
    ...     await alma.learn("helena", "test the login form", "success", "happy path first")
    ...     print((await alma.retrieve("test the signup form", agent="helena")).to_prompt())
    """

    store: AsyncAlmaStore
    saver: AsyncAlmaSaver | None
    graph: AsyncGraphMemory
    _exit: contextlib.AsyncExitStack
    """What `connect` opened (the store's and the saver's pools), closed by `aclose`."""

    @classmethod
    async def connect(
        cls,
        url: str | None = None,
        tenant_id: str = "default",
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        embeddings: Embeddings | Callable[..., Any] | str | None = None,
        *,
        embedding_dims: int | None = None,
        setup: bool = True,
        **kwargs: Any,
    ) -> AsyncAlma:
        """Open a store and a saver (the embedded server when no URL) and run migrations
        unless `setup=False`. Close it with `aclose()` or use it as a context manager.

        `embeddings` None takes the `ALMA_EMBEDDINGS` setting (`hashing:256`, offline, by
        default), as the CLI, the MCP server and Studio do; `"none"` is full text only."""
        embeddings, embedding_dims = default_embeddings(embeddings, embedding_dims)
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

    @classmethod
    async def from_config(cls, path: str | Path = ".alma/config.yaml", **kwargs: Any) -> AsyncAlma:
        """Build from a YAML config (database URL, embeddings, agents, domain)."""
        config = AlmaConfig.load(path)
        domain = None
        if config.domain:
            from langgraph_alma.domains import DomainMemoryFactory

            domain = DomainMemoryFactory.get_preset(config.domain)
        return await cls.connect(
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

    async def aclose(self) -> None:
        """Close the pools `connect` opened."""
        await self._exit.aclose()

    async def __aenter__(self) -> AsyncAlma:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _new_graph(
        self, tenant_id: str | None, project_id: str, domain: DomainSchema | None
    ) -> AsyncGraphMemory:
        return AsyncGraphMemory(
            self.store.conn, tenant_id=tenant_id, project_id=project_id, schema=domain
        )

    async def _run(self, plan: StorePlan[T]) -> T:
        return await arun_store_plan(self.store, plan)

    def _learning(self, agent: str | None) -> AbstractAsyncContextManager[Any]:
        """Learning recounts outcomes and rewrites heuristics: one learn of an agent at a
        time (`store.aatomic`, on an `AsyncAlmaStore`), so none is counted short."""
        return astore_atomic(self.store, f"alma.learn:{self.core.project_id}:{agent or ''}")

    # -- memory (langgraph_alma.memory) ------------------------------------------------
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
        rank_by_confidence: bool | None = None,
    ) -> MemorySlice:
        """Memories relevant to `task` for `agent`, scored, best first; with
        `follow_relationships=N`, also the graph N hops around entities the task names.
        Each memory returned counts a use; `record_use=False` writes nothing (a replica).
        Heuristics are ranked by the confidence engine's forward-looking score for their
        strategy on this task, blended with relevance (`confidence.ranking`);
        `rank_by_confidence=False` (or `ALMA_RANK_HEURISTICS_BY_CONFIDENCE=false` when the
        facade was made) keeps relevance order."""
        if run := needs_workflow(context, scope):  # the run's checkpoints name its workflow
            saver, manager = self._checkpoints()
            context = with_workflow(context, await saver.arun(manager.workflow_of(run)))
        args = (task, agent, project_id, user_id, top_k, context)
        if rank_by_confidence is None:
            rank_by_confidence = self.rank_by_confidence
        rerank = heuristic_ranking(self.core, task, rank_by_confidence)
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
                            rerank=rerank,
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
                rerank=rerank,
            )
        )
        wide = (RetrievalScope.TENANT, RetrievalScope.GLOBAL)
        if include_workflow_outcomes and RetrievalScope(scope) not in wide:
            # Outcomes saved without an agent are the tenant's: every agent learns from them.
            shared = WorkflowCore(self.core).shared_outcomes(task, top_k, context, scope)
            found = merge_shared(found, await self._run(shared), top_k)
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
        """Record an outcome; learn or update the heuristic and anti-pattern it supports."""
        plan = self.core.learn(
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
        async with self._learning(agent):
            return await self._run(plan)

    async def learn_from_conversation(
        self,
        transcript: Transcript,
        agent: str,
        user_id: str | None = None,
        extractor: Extractor | None = None,
    ) -> list[Memory]:
        """Extract heuristics, anti-patterns, preferences, knowledge and outcomes from a
        conversation (a string or LangChain messages) and store them; nothing is stored
        when extraction fails or a memory falls outside the agent's scope."""
        extractor = extractor or self.extractor or default_extractor()
        found = await extractor.aextract(transcript, agent=agent, user_id=user_id)
        async with self._learning(agent):
            return await self._run(self.core.remember(found.memories, agent))

    async def add_user_preference(
        self, user_id: str, category: str, preference: str, source: str = "explicit_instruction"
    ) -> UserPreference:
        """Remember a user's preference or constraint (e.g. category "style")."""
        return await self._run(self.core.add_user_preference(user_id, category, preference, source))

    async def add_domain_knowledge(
        self, agent: str, domain: str, fact: str, source: str = "user_stated"
    ) -> DomainKnowledge:
        """Remember a fact of an agent's domain (not a strategy)."""
        return await self._run(self.core.add_domain_knowledge(agent, domain, fact, source))

    async def forget(
        self, agent: str | None = None, older_than_days: float = 90, below_confidence: float = 0.3
    ) -> int:
        """Remove decayed and policy-named memories; returns how many (audited). One
        transaction, in which the agent's learns wait (it removes running counts)."""
        async with self._learning(agent):
            return await self._run(self.core.forget(agent, older_than_days, below_confidence))

    async def forget_audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest forget records: what went and why."""
        return await self._run(self.core.forget_audit(limit))

    async def get_stats(self, agent: str | None = None) -> dict[str, Any]:
        """Memories per kind (of `agent`, or of everyone), counted in the database."""
        return await self._run(self.core.get_stats(agent))

    async def record_feedback(self, memory_id: str, signal: str | float) -> Usage:
        """Reinforce (positive) or weaken (negative) a memory's ranking and decay."""
        return await self._run(self.core.record_feedback(memory_id, signal))

    async def consolidate(
        self,
        kind: str,
        agent: str | None = None,
        threshold: float = consolidation.DEFAULT_THRESHOLD,
        dry_run: bool = False,
    ) -> consolidation.ConsolidationReport:
        """Merge near-duplicate memories of one kind (one agent's, when given) whose
        embeddings are at least `threshold` cosine-similar; `dry_run` only reports. What
        it reads and what it writes are one transaction, and the agent's learns wait.

        >>> (await alma.consolidate("domain_knowledge", agent="helena")).removed  # doctest: +SKIP
        2
        """
        async with self._learning(agent):
            found = await self._run(consolidation.scan(self.core, kind, agent))
            vectors = await consolidation.embedder_of(self.store).aembed_documents(found.texts)
            plan = consolidation.apply(self.core, found, vectors, threshold, dry_run)
            return await self._run(plan)

    # -- workflow (langgraph_alma.workflow) ----------------------------------------------
    def _checkpoints(self) -> tuple[AsyncAlmaSaver, CheckpointManager]:
        if self.saver is None:  # checkpoints share the store's connections and tenant
            self.saver = AsyncAlmaSaver(self.store.conn, tenant_id=self.store.tenant_id)
        return self.saver, CheckpointManager(self.saver.core, project_id=self.core.project_id)

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
        """Record the state `node_id` left on run `ctx.run_id` as a LangGraph checkpoint
        numbered by the database; None when unchanged since the branch's last one.

        >>> (await alma.checkpoint(ctx, "plan", {"steps": ["a"]})).seq        # doctest: +SKIP
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
        return await saver.arun(plan, transaction=True)

    async def get_resume_point(
        self, run_id: str, branch_id: str | None = None
    ) -> CheckpointRecord | None:
        """The last checkpoint of a run's branch (state, seq, node, pending writes)."""
        saver, manager = self._checkpoints()
        return await saver.arun(manager.resume_point(run_id, branch_id))

    async def cleanup_checkpoints(self, run_id: str, keep_latest: int = 1) -> int:
        """Keep the newest `keep_latest` checkpoints of each branch; returns how many went."""
        saver, manager = self._checkpoints()
        return await saver.arun(manager.cleanup(run_id, keep_latest), transaction=True)

    async def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | dict[str, Any],
        cleanup_checkpoints: bool = True,
        agent: str | None = None,
        task_type: str = WORKFLOW_TASK_TYPE,
    ) -> WorkflowOutcome:
        """Store how a run ended and learn from its patterns (as `agent`'s outcomes on
        `task_type`, which the agent's scope and domain must allow); prune its checkpoints.

        >>> await alma.learn_from_workflow(ctx, {"result": "success",
        ...     "successful_patterns": ["retry flaky steps"]}, agent="helena")  # doctest: +SKIP
        """
        plan = WorkflowCore(self.core).learn_from_workflow(ctx, outcome, agent, task_type)
        async with self._learning(agent):
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
        """Link an artifact to a memory (scoped like it); unknown id: `MemoryNotFound`."""
        plan = WorkflowCore(self.core).link_artifact(
            memory_id, artifact_type, storage_url, checksum, size_bytes, mime_type
        )
        return await self._run(plan)

    async def get_artifacts(self, memory_id: str) -> list[ArtifactRef]:
        """The artifacts linked to a memory."""
        return await self._run(WorkflowCore(self.core).get_artifacts(memory_id))

    async def merge_states(
        self, ctx: WorkflowContext | None, states: list[dict[str, Any]], config: Any = None
    ) -> dict[str, Any]:
        """Merge parallel branch states with named reducers (a `ReducerConfig`)."""
        if ctx is not None:
            ctx.validate()
        return merge_states(states, config)
