"""`CoreBase`: what every part of `MemoryCore` shares (`Learner`, `Upkeep` and the core
itself): the tenant, project, scopes, weights, forget policy and clock it was made with,
and the two things done with them before any write, checking a scope and stamping a
memory. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from langgraph_alma.db.tenancy import run_tenant
from langgraph_alma.errors import PrivilegeRequired
from langgraph_alma.memory.decay import ForgetPolicy
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.memory.scoring import ScoringWeights
from langgraph_alma.memory.types import Memory, utcnow

Clock = Callable[[], datetime]
"""What tells a `MemoryCore` the time (`utcnow` unless a test or a replay gives its own)."""


def context_value(context: Any, name: str) -> Any:
    """`name` (`workflow_id`, `run_id`, `node_id`...) of a call's context: a mapping (or
    its `configurable`), an object's attribute, or None."""
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(name) or (context.get("configurable") or {}).get(name)
    return getattr(context, name, None)


class CoreBase:
    """The settings and checks `MemoryCore`'s parts share (see the module)."""

    def __init__(
        self,
        *,
        tenant_id: str | None,
        project_id: str = "default",
        scopes: Mapping[str, MemoryScope] | None = None,
        weights: ScoringWeights | None = None,
        policy: ForgetPolicy | None = None,
        privileged: bool = False,
        clock: Clock | None = None,
        category_check: Callable[[str, str], None] | None = None,
        default_scope: Callable[[str], MemoryScope] | None = None,
        default_tenant: str = "default",
    ) -> None:
        self.bound_tenant, self.default_tenant = tenant_id, default_tenant
        self.project_id = project_id
        self.scopes: dict[str, MemoryScope] = dict(scopes or {})
        self.weights = weights or ScoringWeights()
        self.policy = policy or ForgetPolicy()
        self.privileged = privileged
        self.clock: Clock = clock or utcnow
        self.category_check = category_check  # a domain schema's own limits, if any
        self.default_scope: Callable[[str], MemoryScope] = default_scope or (
            lambda agent: MemoryScope(agent_name=agent)
        )

    @property
    def tenant_id(self) -> str:
        """The tenant of this call, read where the store reads it: the bound one, else
        the graph run's `configurable["tenant_id"]`, else the default."""
        return run_tenant(self.bound_tenant, self.default_tenant)

    def scope_of(self, agent: str) -> MemoryScope:
        return self.scopes.get(agent) or self.default_scope(agent)

    def require_privilege(self) -> None:
        """Raise `PrivilegeRequired` unless the store may read every tenant."""
        if not self.privileged:
            raise PrivilegeRequired(
                "RetrievalScope.GLOBAL reads every tenant: use a privileged store"
            )

    def check_learning(self, agent: str, category: str) -> None:
        """Raise `ScopeViolation` unless `agent` may learn `category`."""
        self.scope_of(agent).check(category)
        if self.category_check is not None:
            self.category_check(agent, category)

    def stamp(self, memory: Memory, agent: str | None, context: Any, project: str) -> Memory:
        """`memory` stamped before a write: this core's tenant, `project`, `agent`, the
        clock's time, and the workflow, run and node ids `context` names."""
        now = self.clock()
        memory.tenant_id, memory.project_id, memory.agent = self.tenant_id, project, agent
        memory.created_at = memory.last_used_at = now
        for name in ("workflow_id", "run_id", "node_id"):
            if (value := context_value(context, name)) is not None:
                setattr(memory, name, str(value))
        return memory
