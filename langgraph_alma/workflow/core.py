"""`WorkflowCore`: workflow outcomes, artifact links and state merging as store plans on
top of a `MemoryCore` (whose stamping, scope checks and heuristic consolidation it
reuses rather than repeats). `Alma` and `AsyncAlma` drive these plans.

>>> core = WorkflowCore(alma.core)                                     # doctest: +SKIP
>>> run_store_plan(alma.store, core.link_artifact(memory_id, "log", "s3://b/run.log"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from langgraph.store.base import SearchItem, SearchOp

from langgraph_alma.errors import AlmaError, ConfigError
from langgraph_alma.memory import items as it
from langgraph_alma.memory.core import MemoryCore
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.plan import StorePlan
from langgraph_alma.memory.scoring import MemorySlice, score
from langgraph_alma.memory.types import ArtifactRef, MemoryKind, Outcome, WorkflowOutcome
from langgraph_alma.workflow.context import WorkflowContext

_WORKFLOW = ("workflow_id",)
_RUN = ("workflow_id", "run_id")
_NODE = ("workflow_id", "run_id", "node_id")
WORKFLOW_TASK_TYPE = "workflow"  # the category workflow patterns are learned under
MAX_ARTIFACTS = 1000


class MemoryNotFound(AlmaError, LookupError):
    """An operation names a memory id that does not exist in this tenant and project."""

    def __init__(self, memory_id: str, project_id: str) -> None:
        self.memory_id = memory_id
        super().__init__(
            f"no memory {memory_id!r} in project {project_id!r} of this tenant; nothing written"
        )


class WorkflowCore:
    """Plans for workflow learning and artifacts; free of I/O."""

    def __init__(self, memory: MemoryCore) -> None:
        self.memory = memory

    def learn_from_workflow(
        self,
        ctx: WorkflowContext,
        outcome: WorkflowOutcome | Mapping[str, Any],
        agent: str | None = None,
        task_type: str = WORKFLOW_TASK_TYPE,
    ) -> StorePlan[WorkflowOutcome]:
        """Store how a run ended (scoped by `ctx`, embedded for search) and feed each of
        its successful and failed patterns to heuristic and anti-pattern learning as an
        outcome of `agent` on `task_type`. Without an agent the outcome is stored
        agent-less, the tenant's: every agent's retrieval with
        `include_workflow_outcomes` finds it (`shared_outcomes`)."""
        ctx.require("workflow_id", "run_id")
        record = (
            outcome.model_copy(deep=True)
            if isinstance(outcome, WorkflowOutcome)
            else WorkflowOutcome.model_validate(dict(outcome))
        )
        agent = agent or record.agent
        if agent is not None:
            self.memory.check_learning(agent, task_type)  # before anything is written
        self.memory.stamp(record, agent, ctx, self.memory.project_id)
        patterns: list[Outcome] = []
        if agent is not None:
            about = record.summary or f"workflow {ctx.workflow_id}"
            for success, found in (
                (True, record.successful_patterns),
                (False, record.failed_patterns),
            ):
                for pattern in dict.fromkeys(p.strip() for p in found if p and p.strip()):
                    o = Outcome(
                        task_type=task_type,
                        task_description=about,
                        success=success,
                        strategy_used=pattern,
                        duration_ms=record.duration_ms,
                        error_message=None if success else record.error_message,
                        context={"workflow_outcome_id": record.id},
                    )
                    self.memory.stamp(o, agent, ctx, self.memory.project_id)
                    patterns.append(o)
        yield [it.put_op(m) for m in (record, *patterns)]  # one batch: all or nothing
        if agent is not None:
            yield from self.memory.count_outcomes(agent, patterns)
        return record

    def shared_outcomes(
        self, task: str, top_k: int, context: Any = None, scope: Any = "agent"
    ) -> StorePlan[list[WorkflowOutcome]]:
        """Workflow outcomes saved without an agent (the tenant's, every agent learns from
        them) that match `task`, best first, scored as retrieval scores; within the
        workflow, run or node the context names when `scope` is that narrow."""
        filt: dict[str, Any] = {}
        needed = {"node": _NODE, "run": _RUN, "workflow": _WORKFLOW}.get(
            str(getattr(scope, "value", scope)), ()
        )
        for name in needed:
            value = (
                context.get(name) if isinstance(context, Mapping) else getattr(context, name, None)
            )
            if value is None:
                return []  # the agent's own retrieval says what is missing
            filt[name] = str(value)
        prefix = (*it.kind_prefix(self.memory.project_id, MemoryKind.WORKFLOW_OUTCOME), it.NO_OWNER)
        (result,) = yield [
            SearchOp(prefix, filt or None, limit=top_k, query=task or None, refresh_ttl=False)
        ]
        hits = cast(list[SearchItem], result)
        best = max((h.score or 0.0 for h in hits), default=0.0) or 1.0
        now = self.memory.clock()
        found = []
        for h in hits:
            record = cast(WorkflowOutcome, it.from_item(h))
            value = score(record, (h.score or 0.0) / best, Usage(), now, self.memory.weights)
            record.metadata = {**record.metadata, "score": value}
            found.append(record)
        return sorted(found, key=lambda r: -r.metadata["score"])

    def find_memory(self, memory_id: str) -> StorePlan[Any]:
        """The memory with this id in the project (an indexed lookup on the item value)."""
        if not memory_id:
            raise ConfigError("memory_id must not be empty")
        project = self.memory.project_id
        (found_,) = yield [SearchOp((it.ROOT, it.label(project)), {"id": memory_id}, limit=2)]
        kinds = {k.value for k in MemoryKind}
        found = [h for h in cast(list[SearchItem], found_) if h.value.get("kind") in kinds]
        if not found:
            raise MemoryNotFound(memory_id, project)
        return it.from_item(found[0])

    def link_artifact(
        self,
        memory_id: str,
        artifact_type: str,
        storage_url: str,
        checksum: str | None = None,
        size_bytes: int | None = None,
        mime_type: str | None = None,
    ) -> StorePlan[ArtifactRef]:
        """Link an artifact kept elsewhere to a memory; the link takes the memory's scope."""
        if not storage_url:
            raise ConfigError("storage_url must not be empty")
        memory = yield from self.find_memory(memory_id)
        ref = ArtifactRef(
            memory_id=memory.id,
            artifact_type=artifact_type,  # type: ignore[arg-type]  # validated by pydantic
            storage_url=storage_url,
            checksum=checksum,
            size_bytes=size_bytes,
            mime_type=mime_type,
        )
        self.memory.stamp(ref, memory.agent, memory, memory.project_id)
        yield [it.put_op(ref)]
        return ref

    def get_artifacts(self, memory_id: str) -> StorePlan[list[ArtifactRef]]:
        """The artifacts linked to a memory, oldest first."""
        prefix = it.kind_prefix(self.memory.project_id, MemoryKind.ARTIFACT_REF)
        (hits,) = yield [SearchOp(prefix, {"memory_id": memory_id}, limit=MAX_ARTIFACTS)]
        refs = [cast(ArtifactRef, it.from_item(h)) for h in cast(list[SearchItem], hits)]
        return sorted(refs, key=lambda r: r.created_at)


def merge_states(states: Sequence[Mapping[str, Any]], config: Any = None) -> dict[str, Any]:
    """Merge parallel branch states with named reducers (`langgraph_alma.reducers`);
    `config` is a `ReducerConfig`, a dict of its fields, or None (the defaults).

    >>> merge_states([{"n": 1}, {"n": 2}], {"field_reducers": {"n": "sum"}})  # doctest: +SKIP
    {'n': 3}
    """
    from langgraph_alma.reducers import ReducerConfig, StateMerger

    if config is None:
        config = ReducerConfig()
    elif isinstance(config, Mapping):
        config = ReducerConfig(**config)
    return StateMerger(config).merge(list(states))


def merge_shared(found: MemorySlice, shared: Sequence[WorkflowOutcome], top_k: int) -> MemorySlice:
    """`found` with the tenant's agent-less workflow outcomes among its own, best
    `top_k` kept."""
    have = {w.id for w in found.workflow_outcomes}
    merged = [*found.workflow_outcomes, *(w for w in shared if w.id not in have)]
    merged.sort(key=lambda w: -w.metadata.get("score", 0.0))
    found.workflow_outcomes = merged[:top_k]
    for w in found.workflow_outcomes:
        found.scores[w.id] = w.metadata.get("score", 0.0)
    return found
