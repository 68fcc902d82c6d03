"""A forget of thousands of memories: it works (its audit is one record per 1,000
removals; a single record outgrew the store's 1 MiB value limit and refused the whole
forget), its deletes go in batches of 1,000 memories (one batch of 30,000 ops held the
MCP server's loop ~50 ms), and the batches are one transaction: all or nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from langgraph.store.base import PutOp

from langgraph_alma.errors import StoreBatchFailed
from langgraph_alma.memory import Outcome
from langgraph_alma.memory import items as it
from langgraph_alma.memory.upkeep import AUDIT_PART

N = 3_200  # with 200-character texts, one audit record of all was over 1 MiB


def _write_old(alma: Any, clock: Any, n: int) -> None:
    ops = []
    for i in range(n):
        m = Outcome(
            task_type="deploys", task_description=f"{i:05d} " + "x" * 300, success=True,
            strategy_used="retry",
        )  # fmt: skip
        m.agent, m.tenant_id = "heavy", alma.core.tenant_id
        m.created_at = m.timestamp = clock.now - timedelta(days=400)
        op = it.put_op(m)
        ops.append(PutOp(op.namespace, op.key, op.value, index=False))
    for start in range(0, n, 1_000):
        alma.store.batch(ops[start : start + 1_000])


def test_a_forget_of_thousands_is_audited_in_parts(make_alma, clock) -> None:
    alma = make_alma()
    _write_old(alma, clock, N)
    sizes: list[int] = []
    real = alma.store.batch

    def batch(ops: Any) -> Any:
        sizes.append(len(ops))
        return real(ops)

    alma.store.batch = batch
    assert alma.forget("heavy", older_than_days=90, below_confidence=0.0) == N
    assert alma.get_stats("heavy")["total"] == 0
    assert max(sizes) <= 2 * AUDIT_PART + 2  # memory and usage deletes, a count, the audit
    audit = alma.forget_audit()
    parts = -(-N // AUDIT_PART)
    assert [a.get("part") for a in audit] == list(range(parts))
    assert all(a["parts"] == parts and a["agent"] == "heavy" for a in audit)
    removed = [r for a in audit for r in a["removed"]]
    assert len(removed) == N and len({r["id"] for r in removed}) == N


def test_a_forget_failing_midway_removes_nothing(make_alma, clock) -> None:
    alma = make_alma()
    _write_old(alma, clock, N)
    deletes = 0
    real = alma.store.batch

    def batch(ops: Any) -> Any:
        nonlocal deletes
        if any(isinstance(op, PutOp) and op.value is None for op in ops):
            deletes += 1
            if deletes == 3:  # the first two delete batches went through
                raise StoreBatchFailed("forget", RuntimeError("connection lost"))
        return real(ops)

    alma.store.batch = batch
    with pytest.raises(StoreBatchFailed):
        alma.forget("heavy", older_than_days=90, below_confidence=0.0)
    assert deletes == 3
    alma.store.batch = real
    assert alma.get_stats("heavy")["counts"]["outcome"] == N
    assert alma.forget_audit() == []
