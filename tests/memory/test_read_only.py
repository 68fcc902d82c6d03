"""Reads that write nothing run in read-only transactions, as on a hot standby: store
reads without a TTL refresh, and retrieval with `record_use=False`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from langgraph_alma.alma import Alma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import StoreBatchFailed
from langgraph_alma.memory import items
from langgraph_alma.store import AlmaStore
from tests.memory.conftest import INDEX


@pytest.fixture(scope="module")
def read_only_pool(database) -> Iterator[ConnectionPool]:
    url = make_conninfo(database.url, options="-c default_transaction_read_only=on")
    with ConnectionPool(url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield p


def test_store_reads_without_refresh_run_read_only(pool, read_only_pool, tenant) -> None:
    AlmaStore(pool, tenant_id=tenant).put(("notes",), "n1", {"text": "retry once"})
    replica = AlmaStore(read_only_pool, tenant_id=tenant)
    assert replica.get(("notes",), "n1", refresh_ttl=False).value == {"text": "retry once"}
    assert [i.key for i in replica.search(("notes",), refresh_ttl=False)] == ["n1"]
    with pytest.raises(StoreBatchFailed) as info:
        replica.get(("notes",), "n1")  # refreshing a TTL is a write
    assert isinstance(info.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)


def test_retrieval_without_recording_uses_writes_nothing(
    make_alma, read_only_pool, tenant, clock, _indexed
) -> None:
    primary = make_alma()
    primary.learn("helena", "fix the flaky login test", "success", "pin the clock")
    replica = Alma(AlmaStore(read_only_pool, index=INDEX, tenant_id=tenant), clock=clock)

    found = replica.retrieve("flaky login test", agent="helena", record_use=False)
    assert [o.strategy_used for o in found.outcomes] == ["pin the clock"]
    with pytest.raises(StoreBatchFailed) as info:
        replica.retrieve("flaky login test", agent="helena")  # records a use: a write
    assert isinstance(info.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)

    memory_id = found.outcomes[0].id
    primary.retrieve("flaky login test", agent="helena")
    again = primary.retrieve("flaky login test", agent="helena", record_use=False)
    # one recorded use (the primary's first retrieve); the unrecorded ones left no trace
    used = primary.store.get(items.usage_namespace(primary.core.project_id), memory_id)
    assert again.outcomes[0].id == memory_id
    assert used.value["use_count"] == 1
