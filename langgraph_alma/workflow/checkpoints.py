"""The workflow checkpoint manager: node checkpoints of a run, per branch, numbered by
the database, stored as real LangGraph checkpoints through `AlmaSaver`'s plans (so delta
storage, size limits and row-level security apply, and `graph.get_state` sees them).

Written once as statement plans (`langgraph_alma.db.plan`); `Alma` and `AsyncAlma` run
them in a transaction on their saver's connections.

>>> core = CheckpointManager(saver.core, project_id="p")                # doctest: +SKIP
>>> run_plan(conn, core.checkpoint(ctx, "plan", {"x": 1}), transaction=True)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata
from langgraph.checkpoint.base.id import uuid6
from psycopg.types.json import Jsonb

from langgraph_alma.checkpoint.plans import PRUNE_BLOBS, SaverCore, stored_checkpoint
from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.errors import AlmaError, ConfigError
from langgraph_alma.workflow import _sql
from langgraph_alma.workflow.context import WorkflowContext

MAIN_BRANCH = ""
_SAVEPOINT = "SAVEPOINT alma_workflow_put"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT alma_workflow_put"


class CheckpointConflict(AlmaError):
    """The branch counter moved under a writer holding its lock (should never happen);
    the transaction was rolled back."""


@dataclass(frozen=True)
class CheckpointRecord:
    """One manager checkpoint: the state a node left, its number on its branch, and the
    writes pending against it (when read back as a resume point)."""

    run_id: str
    branch_id: str | None
    seq: int
    node_id: str | None
    checkpoint_id: str
    state: dict[str, Any]
    created_at: datetime | None = None
    pending_writes: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def sequence_number(self) -> int:
        """The PRD's name for `seq`: the checkpoint's number on its branch."""
        return self.seq

    @property
    def config(self) -> RunnableConfig:
        """The LangGraph config of this checkpoint (resume a graph from it)."""
        return {
            "configurable": {
                "thread_id": self.run_id,
                "checkpoint_ns": "",
                "checkpoint_id": self.checkpoint_id,
            }
        }


def channel_hash(type_: str, blob: bytes) -> str:
    """A short digest of one serialized channel value."""
    return hashlib.blake2b(type_.encode() + b"\0" + blob, digest_size=16).hexdigest()


class CheckpointManager:
    """Plans for the checkpoint manager, on top of a saver's `SaverCore`."""

    def __init__(self, saver: SaverCore, *, project_id: str | None = None) -> None:
        self.saver = saver
        self.project_id = project_id

    def _config(self, ctx: WorkflowContext, run_id: str) -> RunnableConfig:
        conf: dict[str, Any] = {"thread_id": run_id, "checkpoint_ns": ""}
        if ctx.tenant_id is not None:
            conf["tenant_id"] = ctx.tenant_id
        if ctx.workflow_id is not None:
            conf["workflow_id"] = ctx.workflow_id
        if self.project_id is not None:
            conf["project_id"] = self.project_id
        return {"configurable": conf}

    def checkpoint(
        self,
        ctx: WorkflowContext,
        node_id: str,
        state: Mapping[str, Any],
        *,
        branch_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skip_if_unchanged: bool = True,
    ) -> Plan[CheckpointRecord | None]:
        """Record `state` as left by `node_id` on a branch of run `ctx.run_id` (run it in
        a transaction). None when the state equals the branch's last checkpoint."""
        ctx.require("run_id")
        if not node_id:
            raise ConfigError("checkpoint needs a node_id")
        if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
            raise ConfigError(f"state must be a dict with str keys, got {type(state).__name__}")
        branch = branch_id if branch_id is not None else ctx.branch_id
        run_id = str(ctx.run_id)
        config = self._config(ctx, run_id)
        tenant = self.saver.tenant(config)
        dumped = {ch: self.saver.serde.dumps_typed(v) for ch, v in state.items()}
        hashes = {ch: channel_hash(t, b) for ch, (t, b) in dumped.items()}
        key = {"tenant": tenant, "thread": run_id, "branch": branch or MAIN_BRANCH}
        rows = yield [
            set_tenant(tenant),
            Sql(_sql.LOCK_BRANCH, key, fetch=True),
            Sql(_SAVEPOINT),
        ]
        last_seq, last_id, last_hashes, last_versions, *packed = rows[1][0]  # type: ignore[index]  # fetch=True: the statement's rows
        if packed[0] is not None:
            last_versions = stored_checkpoint(last_id, *packed).get("channel_versions")
        if skip_if_unchanged and last_id is not None and last_hashes == hashes:
            return None
        versions: dict[str, str | int | float] = {}
        new_versions: dict[str, str | int | float] = {}
        for ch in state:
            old = (last_versions or {}).get(ch)
            if old is None or last_hashes.get(ch) != hashes[ch]:
                versions[ch] = new_versions[ch] = self.saver.next_version(old)
            else:
                versions[ch] = old
        seq = int(last_seq) + 1
        checkpoint = Checkpoint(
            v=4,
            id=str(uuid6(clock_seq=seq)),
            ts=datetime.now(UTC).isoformat(),
            channel_values=dict(state),
            channel_versions=versions,
            versions_seen={node_id: dict(versions)},
            updated_channels=sorted(new_versions),
        )
        meta = cast(
            CheckpointMetadata,
            {
                **dict(metadata or {}),
                "source": "update",
                "step": seq,
                "parents": {},
                "node_id": node_id,
                "branch_id": branch,
                "seq": seq,
            },
        )
        if last_id is not None:
            config["configurable"]["checkpoint_id"] = last_id
        mark = Sql(
            _sql.MARK,
            {
                **key,
                "seq": seq,
                "id": checkpoint["id"],
                "hashes": Jsonb(hashes),
                "branch_col": branch,
                "node": node_id,
            },
            fetch=True,
        )
        marked = yield from _put_with(self.saver.put(config, checkpoint, meta, new_versions), mark)
        if not marked:
            raise CheckpointConflict(f"run {run_id!r} branch {branch!r}: seq {seq} was taken")
        return CheckpointRecord(
            run_id,
            branch,
            int(marked[0][0]),
            node_id,
            checkpoint["id"],
            dict(state),
            marked[0][1],
        )

    def resume_point(
        self, run_id: str, branch_id: str | None = None, tenant_id: str | None = None
    ) -> Plan[CheckpointRecord | None]:
        """The newest checkpoint of a branch with its state and pending writes; None when
        the branch has none. With no branch: the main branch's newest, else (every
        checkpoint of the run is on a named branch) the run's newest on any branch. A run
        whose checkpoints a graph wrote (no manager checkpoints) resumes from the graph's
        newest, `seq` its step."""
        if not run_id:
            raise ConfigError("get_resume_point needs a run_id")
        config = self._config(WorkflowContext(tenant_id=tenant_id), str(run_id))
        tenant = self.saver.tenant(config)
        key = {"tenant": tenant, "thread": str(run_id), "branch": branch_id or MAIN_BRANCH}
        rows = yield [set_tenant(tenant), Sql(_sql.LATEST, key, fetch=True)]
        found = rows[1]
        branch = branch_id
        if not found and branch_id is None:
            rows = yield [set_tenant(tenant), Sql(_sql.LATEST_ANY_BRANCH, key, fetch=True)]
            found = rows[1]
            if found:
                branch = found[0][4]
        if not found:
            return None
        checkpoint_id, seq, node_id, created_at = found[0][:4]
        config["configurable"]["checkpoint_id"] = checkpoint_id
        tup = yield from self.saver.get_tuple(config)
        if tup is None:  # deleted between the two reads
            return None
        return CheckpointRecord(
            str(run_id),
            branch,
            int(seq),
            node_id,
            checkpoint_id,
            dict(tup.checkpoint["channel_values"]),
            created_at,
            list(tup.pending_writes or []),
        )

    def workflow_of(self, run_id: str, tenant_id: str | None = None) -> Plan[str | None]:
        """The workflow run `run_id` belongs to, as its checkpoints record it (None when
        it has none naming a workflow)."""
        config = self._config(WorkflowContext(tenant_id=tenant_id), str(run_id))
        tenant = self.saver.tenant(config)
        key = {"tenant": tenant, "thread": str(run_id)}
        rows = yield [set_tenant(tenant), Sql(_sql.WORKFLOW_OF_RUN, key, fetch=True)]
        return str(rows[1][0][0]) if rows[1] else None

    def cleanup(self, run_id: str, keep_latest: int = 1, tenant_id: str | None = None) -> Plan[int]:
        """Delete all but the newest `keep_latest` (>= 1) manager checkpoints of each
        branch of a run, and the blobs no kept checkpoint reaches; returns how many
        checkpoints went (run it in a transaction)."""
        if keep_latest < 1:
            raise ConfigError(f"keep_latest must be at least 1, got {keep_latest}")
        config = self._config(WorkflowContext(tenant_id=tenant_id), str(run_id))
        tenant = self.saver.tenant(config)
        params = {"tenant": tenant, "thread": str(run_id), "keep": int(keep_latest)}
        rows = yield [
            set_tenant(tenant),
            Sql(_sql.LOCK_RUN, params),
            Sql(_sql.DELETE_OLD, params, fetch=True),
            Sql(PRUNE_BLOBS, params),
        ]
        # Other processes may remember deleted blobs as delta bases: their next put
        # fails its foreign key and retries with whole values.
        self.saver.memory.forget(tenant, [str(run_id)])
        return int(rows[2][0][0])  # type: ignore[index]  # fetch=True: the statement's rows


def _put_with(put: Plan[RunnableConfig], extra: Sql) -> Plan[Any]:
    """Drive the saver's put plan, then `extra`; returns the rows of `extra`.

    The put runs behind a savepoint (set by the caller's first batch) so that its retry
    (a delta base deleted meanwhile) can run in our transaction. Each statement that may
    fail is sent on its own, never in a pipeline: psycopg's prepared-statement cache can
    lose track of statements skipped after an error inside a pipeline.
    """
    batch = next(put)
    while True:
        try:
            results = yield batch
        except psycopg.errors.ForeignKeyViolation as exc:
            retry = put.throw(exc)
            yield [Sql(_ROLLBACK_TO)]
            batch = retry
            continue
        try:
            batch = put.send(results)
        except StopIteration:
            break
    rows = yield [extra]
    return rows[0]
