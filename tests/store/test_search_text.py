"""Language-aware full text and BM25 ranking (issue 12): stemming, stop words, rare words
weighed above common ones, a query of stop words only, other languages, the migration
that rebuilds existing rows, and fusion that does not lose to either side."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from langgraph_alma import AlmaStore, ConfigError
from langgraph_alma.embeddings import HashingEmbeddings
from tests.store.conftest import DIMS, fake_embed


def keys(items) -> list[str]:
    return [i.key for i in items]


def test_stemming_meets_word_forms(store: AlmaStore, ns) -> None:
    store.put(ns, "a", {"text": "Running the nightly migrations"})
    store.put(ns, "b", {"text": "unrelated words"})
    found = store.search(ns, query="run a migration")
    assert keys(found)[0] == "a" and found[0].text_score == 1.0
    assert found[1].text_score is None


def test_stop_words_match_nothing(store: AlmaStore, ns) -> None:
    store.put(ns, "chatty", {"text": "what did the team do with the thing that was there"})
    store.put(ns, "dog", {"text": "dog"})
    found = store.search(ns, query="what did the dog do")
    assert keys(found) == ["dog", "chatty"]
    assert found[1].text_score is None  # "what", "did", "the", "do" are no evidence


def test_query_of_only_stop_words_falls_back_to_newest_first(store: AlmaStore, ns) -> None:
    store.put(ns, "old", {"text": "the cat"})
    store.put(ns, "new", {"text": "a dog"})
    found = store.search(ns, query="the of and a")
    assert keys(found) == ["new", "old"] and [i.score for i in found] == [None, None]


def test_rare_words_weigh_more_than_common_ones(store: AlmaStore, ns) -> None:
    for i in range(8):
        store.put(ns, f"a{i}", {"text": f"invoice number {i}"})  # "invoice" is common here
    store.put(ns, "z", {"text": "chargeback dispute"})  # "chargeback" is rare
    found = store.search(ns, query="invoice chargeback")
    assert keys(found)[0] == "z"
    assert found[1].text_score < 1.0


def test_long_items_are_not_favoured(store: AlmaStore, ns) -> None:
    filler = " ".join(f"word{i}" for i in range(60))
    store.put(ns, "long", {"text": f"kafka {filler}"})
    store.put(ns, "short", {"text": "kafka lag"})
    assert keys(store.search(ns, query="kafka"))[0] == "short"


def test_statistics_are_those_of_the_searched_prefix(store: AlmaStore, ns) -> None:
    """Document frequency is counted within the searched prefix: a word common elsewhere
    is rare here."""
    for i in range(10):
        store.put((*ns, "other"), f"o{i}", {"text": "backup"})
    store.put((*ns, "here"), "b", {"text": "backup window"})
    store.put((*ns, "here"), "w", {"text": "window"})
    store.put((*ns, "here"), "x", {"text": "window glass"})
    store.put((*ns, "here"), "y", {"text": "window frame"})
    assert keys(store.search((*ns, "here"), query="backup window"))[0] == "b"
    assert store.search((*ns, "here"), query="backup")[0].key == "b"


@pytest.mark.parametrize(
    ("config", "document", "query"),
    [
        ("french", "les chevaux mangeaient des pommes", "cheval"),
        ("german", "die Häuser wurden gebaut", "Haus"),
    ],
)
def test_a_non_english_configuration(pool, tenant, ns, config, document, query) -> None:
    local = AlmaStore(pool, tenant_id=tenant, text_config=config)
    local.put(ns, "doc", {"text": document})
    local.put(ns, "other", {"text": "rien du tout"})
    found = local.search(ns, query=query)
    assert keys(found)[0] == "doc" and found[0].text_score == 1.0
    english = AlmaStore(pool, tenant_id=tenant)  # "english" stems them otherwise
    english.put(ns, "doc", {"text": document})
    assert english.search(ns, query=query)[0].text_score is None


def test_simple_configuration_keeps_every_word(pool, tenant, ns) -> None:
    simple = AlmaStore(pool, tenant_id=tenant, text_config="simple")
    simple.put(ns, "a", {"text": "the running dogs"})
    assert simple.search(ns, query="the")[0].text_score == 1.0
    assert simple.search(ns, query="run")[0].text_score is None


def test_bad_text_settings_raise(pool) -> None:
    with pytest.raises(ConfigError):
        AlmaStore(pool, text_config="english; DROP TABLE x")
    with pytest.raises(ConfigError):
        AlmaStore(pool, text_weight=1.5)


def test_migration_rebuilds_existing_rows_with_english(server) -> None:
    """Rows written under migration 0004 (a `simple` tsvector) are stemmed by 0005."""
    from langgraph_alma.migrations import RECORD, migrate, migrations
    from tests.conftest import _with_dbname

    app_url, admin_url = server
    name = f"alma_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_dbname(admin_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE alma_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for m in migrations()[:4]:
                conn.execute(m.sql)
                conn.execute(RECORD, (m.version, m.name))
            conn.execute(
                "INSERT INTO alma_store (tenant_id, ns_path, key, value, search_text) "
                "VALUES ('t', 'n', 'k', '{}', 'Running migrations')"
            )
            assert conn.execute("SELECT tsv::text FROM alma_store").fetchone() == (
                "'migrations':2 'running':1",
            )
            migrate(conn)
            assert conn.execute("SELECT tsv::text FROM alma_store").fetchone() == (
                "'migrat':2 'run':1",
            )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- fusion does not lose to either side -------------------------------------------

# Each query's answer, with distractors sharing its words: lexical evidence (rare words)
# and semantic evidence (synonyms the toy embedder folds: automobile/vehicle -> car,
# feline/kitten -> cat) each decide some queries.
CORPUS = {
    "car-repair": "the car needs a brake repair at the garage",
    "car-sale": "selling my old car cheap",
    "cat-food": "my cat only eats fish food",
    "cat-vet": "took the cat to the vet for shots",
    "zx-ticket": "ticket ZX4471 refund approved",
    "zx-other": "ticket ZX9000 refund denied",
    "budget": "quarterly budget review meeting",
    "garden": "the garden needs water in summer",
    "brakes": "brake pads and brake fluid",
    "fish": "fish market opens at dawn",
    "a-ticket-refund": "ticket refund approved",
    "z-car-refund": "car refund approved",
    "a-dog-vet": "dog went to the vet",
}
QUERIES = {
    "vehicle brake repair": "car-repair",
    "feline vet visit": "cat-vet",
    "zx4471": "zx-ticket",
    "budget review": "budget",
    "kitten food fish": "cat-food",
    "sell automobile": "car-sale",
    "water the garden": "garden",
    "vehicle refund": "z-car-refund",  # lexically a tie that only meaning breaks
    "kitten vet": "cat-vet",
}


def _mrr(store: AlmaStore, ns) -> float:
    total = 0.0
    for query, answer in QUERIES.items():
        found = keys(store.search(ns, query=query, limit=len(CORPUS)))
        total += 1 / (found.index(answer) + 1)
    return total / len(QUERIES)


def test_fusion_lifts_lexical_with_a_strong_embedder(pool, tenant, indexed_setup) -> None:
    """On a small fixed corpus, the toy embedder (which knows the synonyms) lifts the
    lexical ranking, and the lexical side fixes what the embedder cannot read (codes)."""
    ns = ("fuse", uuid.uuid4().hex[:8])
    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    fused = AlmaStore(pool, tenant_id=tenant, index=index)
    vector_only = AlmaStore(pool, tenant_id=tenant, index=index, text_weight=0.0)
    text_only = AlmaStore(pool, tenant_id=tenant)
    for key, text in CORPUS.items():
        fused.put(ns, key, {"text": text})
    lexical, vector, both = _mrr(text_only, ns), _mrr(vector_only, ns), _mrr(fused, ns)
    print(f"toy: MRR lexical {lexical:.3f} vector {vector:.3f} fused {both:.3f}")
    assert both > max(lexical, vector), (lexical, vector, both)


def _retrieval_bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "bench" / "retrieval_bench.py"
    spec = importlib.util.spec_from_file_location("retrieval_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# The one split and metric where fusion still loses (README, "Store retrieval quality"):
# without stemming every turn matches the query's stop words, so full text has no clear
# leader below the top 5 and the weak hashing vectors reorder ranks 6-10.
_KNOWN_MISS = {("hashing", "simple", "recall@10")}


@pytest.mark.parametrize("config", ["english", "simple"])
@pytest.mark.parametrize("embedder", ["hashing", "concept"])
def test_fusion_does_not_lose_to_either_side(database, tenant, embedder, config) -> None:
    """On the retrieval benchmark's generated conversations (20 users, 100 paraphrased
    questions): fused recall@1, recall@5, recall@10 and MRR >= max(full text alone,
    vector alone), with the weak offline embedder as with a strong one, with stemming and
    without (where the weak vectors used to drag full text down: fusion now follows the
    side that has a clear best hit). The known miss must stay a miss until it is fixed,
    so that fixing it updates this test and the README."""
    rb = _retrieval_bench()
    puts, questions = rb.corpus(20)
    embed = HashingEmbeddings(256) if embedder == "hashing" else rb.ConceptEmbeddings(256)
    index = {"dims": 256, "embed": embed, "fields": ["text"], "ann": "exact"}
    results = {}
    with AlmaStore.from_conn_string(
        database.url, tenant_id=tenant, index=index, text_config=config
    ) as store:
        store.batch(puts)
        results["fused"] = rb.evaluate(store, questions)
        store._core.text_weight = 0.0
        results["vector"] = rb.evaluate(store, questions)
    with AlmaStore.from_conn_string(database.url, tenant_id=tenant, text_config=config) as store:
        results["lexical"] = rb.evaluate(store, questions)
    print(embedder, config, results)
    for metric in ("recall@1", "recall@5", "recall@10", "mrr"):
        sides = max(results["lexical"][metric], results["vector"][metric])
        holds = results["fused"][metric] >= sides
        assert holds != ((embedder, config, metric) in _KNOWN_MISS), (metric, results)


def test_text_matches_function_is_confined_to_the_tenant(pool, database, ns) -> None:
    """`alma_store_text_matches` bypasses row-level security to use the GIN index; it
    must still see only the tenant the transaction acts for."""
    a, b = (f"iso-{uuid.uuid4().hex[:6]}" for _ in range(2))
    AlmaStore(pool, tenant_id=a).put(ns, "mine", {"text": "confidential merger plan"})
    AlmaStore(pool, tenant_id=b).put(ns, "theirs", {"text": "confidential merger plan"})
    found = AlmaStore(pool, tenant_id=a).search((), query="merger", limit=50)
    assert [i.key for i in found if i.text_score] == ["mine"]
    with psycopg.connect(database.url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('alma.tenant_id', %s, true)", (a,))
        rows = conn.execute(
            "SELECT key FROM alma_store_text_matches("
            "to_tsquery('english', 'merger'), NULL, NULL, NULL, 100)"
        ).fetchall()
        assert rows == [("mine",)]
        df = "SELECT df FROM alma_store_text_df(ARRAY['merger'], NULL, NULL, NULL)"
        assert conn.execute(df).fetchall() == [(1,)]
    with psycopg.connect(database.url, autocommit=True) as conn:  # no tenant set: nothing
        rows = conn.execute(
            "SELECT key FROM alma_store_text_matches("
            "to_tsquery('english', 'merger'), NULL, NULL, NULL, 100)"
        ).fetchall()
        assert rows == []


def test_text_weight_zero_orders_by_vectors_alone(pool, tenant, indexed_setup, ns) -> None:
    """`text_weight=0` turns every lexical lift off, the adaptive one too: a sole,
    clear full-text hit among vectors with no leader (the toy model ignores codes, so all
    three items embed alike) then scores exactly its similarity."""
    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    store = AlmaStore(pool, tenant_id=tenant, index=index, text_weight=0.0)
    for key, code in {"a": "x42", "b": "y77", "c": "z99"}.items():
        store.put(ns, key, {"text": f"ticket {code} filed"})
    found = store.search(ns, query="x42", limit=10)
    [hit] = [i for i in found if i.key == "a"]
    assert hit.text_score and hit.text_score > 0
    assert all(i.score == pytest.approx(i.similarity) for i in found)
    assert [i.score for i in found] == sorted((i.score for i in found), reverse=True)
