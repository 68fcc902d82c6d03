"""`alma_store_text_df` (migration 0008): each query word's item count, in one pass over
the rows holding any of the words; the same counts as the per-word definition of 0007."""

from __future__ import annotations

import psycopg

from langgraph_alma import AlmaStore

# The definition of migrations 0005/0007: one count per word.
OLD = """
SELECT l.lexeme, (
    SELECT count(*) FROM alma_store s
    WHERE s.tenant_id = alma_current_tenant()
      AND s.tsv @@ plainto_tsquery('simple', l.lexeme)
      AND (%(prefix)s::text IS NULL
           OR s.ns_path = %(prefix)s OR (s.ns_path >= %(lo)s AND s.ns_path < %(hi)s))
      AND (s.expires_at IS NULL OR s.expires_at > now()))
FROM unnest(%(words)s::text[]) AS l(lexeme)
"""
NEW = "SELECT * FROM alma_store_text_df(%(words)s::text[], %(prefix)s, %(lo)s, %(hi)s)"

# Scans of alma_store and its indexes so far in this transaction.
SCANS = """
SELECT sum(pg_stat_get_xact_numscans(c.oid))::int FROM pg_class c
WHERE c.oid = 'alma_store'::regclass
   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'alma_store'::regclass)
"""

CORPUS = {
    ("here",): ["window glass", "window frame", "backup window", "kafka lag", "foo-bar baz"],
    ("here", "sub"): ["window", "backup", "see https://example.com/foo-bar now"],
    ("elsewhere",): ["window", "window glass", "backup", "glass"],
}
WORDS = ["window", "glass", "backup", "kafka", "zebra", "foo-bar", "foo", "example.com", "", "-"]


def _counts(database, tenant: str, sql: str, prefix: str | None) -> list[tuple[str, int]]:
    params = {
        "words": WORDS,
        "prefix": prefix,
        "lo": None if prefix is None else prefix + ".",
        "hi": None if prefix is None else prefix + "/",
    }
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", [tenant])
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def _scans(database, tenant: str, sql: str, prefix: str) -> int:
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", [tenant])
        conn.execute(
            sql, {"words": WORDS, "prefix": prefix, "lo": prefix + ".", "hi": prefix + "/"}
        )
        (scans,) = conn.execute(SCANS).fetchone()
    return scans


def test_one_pass_counts_equal_the_per_word_counts(store: AlmaStore, ns, database, tenant):
    for sub, texts in CORPUS.items():
        for i, text in enumerate(texts):
            store.put((*ns, *sub), f"k{i}", {"text": text})
    store.put((*ns, "here"), "expired", {"text": "window glass kafka"})
    store.put(("other-root",), "x", {"text": "window"})
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        admin.execute(
            "UPDATE alma_store SET expires_at = now() - interval '1 minute'"
            " WHERE tenant_id = %s AND key = 'expired'",
            [tenant],
        )

    here = ".".join((*ns, "here"))
    # Counted by hand from CORPUS: live items of the prefix holding each word.
    expected_here = {"window": 4, "glass": 1, "backup": 2, "kafka": 1, "zebra": 0}
    expected_tenant = {"window": 7, "glass": 3, "backup": 3, "kafka": 1, "zebra": 0}
    for prefix, expected in ((here, expected_here), (None, expected_tenant)):
        new = _counts(database, tenant, NEW, prefix)
        assert new == _counts(database, tenant, OLD, prefix)
        assert [w for w, _ in new] == WORDS  # every word, in the order given
        assert {w: n for w, n in new if w in expected} == expected
        assert dict(new)["foo-bar"] >= 1 and dict(new)[""] == 0

    # One read of the table (a scan of it, or a bitmap of one or two of its indexes), not
    # one per word as before.
    assert _scans(database, tenant, NEW, here) <= 2
    assert _scans(database, tenant, OLD, here) >= 8  # the words with a non-empty query

    # Another tenant sees none of these rows.
    assert all(n == 0 for _, n in _counts(database, tenant + "-x", NEW, None))
