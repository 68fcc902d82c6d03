"""`CoreState`: what every part of `SaverCore` shares: its settings, the serializer and
its fast loads, the channel memory, the tenant of a call, value dumping and versions."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_alma.checkpoint import _versions
from langgraph_alma.checkpoint._compress import unpacking
from langgraph_alma.checkpoint._decode import Loads, fast_loads
from langgraph_alma.checkpoint._delta import (
    ChannelMemory,
    Dumps,
)
from langgraph_alma.checkpoint._inputs import RunMarks, _run_of, checked_dumps
from langgraph_alma.db.tenancy import resolve_tenant
from langgraph_alma.errors import (
    ThreadIdRequired,
)


class CoreState:
    """The state `Reads`, `Writes` and `SaverCore` share (see the module)."""

    def __init__(
        self,
        serde: SerializerProtocol,
        *,
        tenant_id: str | None,
        default_tenant: str,
        max_state_bytes: int,
        max_chain: int,
        memory: ChannelMemory,
        writes_async_commit: bool = True,
        checkpoints_async_commit: bool = True,
    ) -> None:
        self.serde = serde
        self.writes_async_commit = writes_async_commit
        self.checkpoints_async_commit = checkpoints_async_commit
        self.tenant_id = tenant_id
        self.default_tenant = default_tenant
        self.max_state_bytes = max_state_bytes
        self.max_chain = max_chain
        self.memory = memory
        # Runs whose checkpoint put was refused for a bad value: LangGraph runs the next
        # tasks anyway and saves their writes, which are refused too.
        self.refused = RunMarks()
        # Runs that wrote an error or an interrupt, which may end them: their checkpoints
        # commit synchronously from then on (`Writes`).
        self.ending = RunMarks()
        # Runs whose task writes are not held for the next checkpoint (`holds_writes`).
        self.unheld = RunMarks()
        self._loads: tuple[SerializerProtocol, Loads] | None = None

    @property
    def loads(self) -> Loads:
        """What reads decode with: `serde.loads_typed` of stored blobs (`_compress`),
        faster for LangChain messages (`_decode`); follows `serde` when a clone is given
        another."""
        if self._loads is None or self._loads[0] is not self.serde:
            self._loads = (self.serde, unpacking(fast_loads(self.serde)))
        return self._loads[1]

    # -- holding a run's task writes for its next checkpoint (`_coalesce.Hold`) --------
    def holds_writes(self, config: RunnableConfig, writes: Any) -> bool:
        """Whether task writes may wait for the run's next checkpoint put, to share its
        round trip (and its commit, synchronous if either asks for one): those of a
        LangGraph run, to ordinary channels (not errors, interrupts, sends or an error
        handler's source, which LangGraph may wait for), of a run not marked by
        `hold_no_more`, nor ending (it wrote an error or an interrupt: no put may follow,
        and a sync caller of a held write does not wait for it, `_coalesce`)."""
        if _run_of(config) is None or self.unheld.marked(config) or self.ending.marked(config):
            return False
        return not any(channel.startswith("__") for channel, _ in writes)

    def hold_no_more(self, config: RunnableConfig) -> None:
        """The run of `config` (if any) gets its writes sent at once from now on: it
        waits for them before its next put (DeltaChannel writes), or one was held in
        vain."""
        self.unheld.mark(config)

    # -- tenancy -----------------------------------------------------------------
    def tenant(self, config: RunnableConfig | None = None) -> str:
        """The tenant a call acts for: the bound tenant, or the config's, or the default."""
        return resolve_tenant(self.tenant_id, config, self.default_tenant)

    def _name_tenant(self, config: RunnableConfig | None, tenant: str) -> None:
        """Configs the saver hands out name a tenant other than the default, so that a
        call made with them (`update_state` on a snapshot of the history, a resume from a
        listed checkpoint) acts for the same tenant."""
        if config is not None and tenant != self.default_tenant:
            config["configurable"]["tenant_id"] = tenant

    @staticmethod
    def thread_of(config: RunnableConfig | None) -> str:
        thread = ((config or {}).get("configurable") or {}).get("thread_id")
        if thread is None or thread == "":
            raise ThreadIdRequired(config)
        return str(thread)

    def _dumps(self, where: str) -> Dumps:
        """The serializer's `dumps_typed`, refusing a value PostgreSQL cannot store."""
        return lambda value: checked_dumps(self.serde, where, value)

    @staticmethod
    def next_version(current: str | int | None) -> str:
        """The version after `current`: 14 characters, ordered as strings (`_versions`)."""
        return _versions.next_version(current)
