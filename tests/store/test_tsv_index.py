"""The full-text index keeps no pending list (migration 0010): an item's words are in the
index as soon as it is written, so a lookup (the word frequencies of a search without a
namespace prefix) reads a few index pages, never a list of every recent insert."""

from __future__ import annotations

import psycopg
from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore


def test_puts_leave_nothing_in_the_pending_list(store: AlmaStore, ns, database):
    store.batch([PutOp(ns, f"k{i}", {"text": f"pending word{i} here"}) for i in range(200)])
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        (options,) = admin.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'alma_store_tsv_idx'::regclass"
        ).fetchone()
        # The number of pending pages merged: 0 when puts went straight into the index.
        (merged,) = admin.execute(
            "SELECT gin_clean_pending_list('alma_store_tsv_idx'::regclass)"
        ).fetchone()
    assert merged == 0
    assert "fastupdate=off" in (options or [])
    # The words are found through the index at once.
    hits = store.search(ns, query="word7", limit=5)
    assert hits and hits[0].key == "k7"
