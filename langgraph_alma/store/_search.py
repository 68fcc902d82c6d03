"""The query search of AlmaStore: its statement and the pure pieces it is built from.

A query search is one statement with up to three parts:

- **lexical**: the items of the searched prefix (and filter) whose `tsvector` matches any
  word of the query, reduced by the store's text search configuration (`english` by
  default: stemmed, stop words dropped), ranked by BM25. Document frequencies are counted
  within the tenant and prefix of the search, in the snapshot the statement reads: when
  the items holding any query word are at most `BM25_MAX_DF`, one GIN lookup reads them
  all and both the frequencies and the candidates come from them; else the frequencies
  are counted first and the candidates read from the selective words. The collection size
  (the prefix's items, up to `BM25_N_CAP`) is counted once and remembered per (tenant,
  prefix) for a minute (`CollectionSizes`); document length is the number of distinct
  lexemes.
- **vector**: the nearest vectors for the index's `distance_type`, exactly over a small
  filtered candidate set, else through the HNSW index with pgvector's iterative scan.
- **fusion**: every candidate gets its similarity (`1 - cosine distance`, the inner
  product, or the negative L2 distance, as LangGraph's stores define `score`) and its
  lexical strength `t` in [0, 1] (its BM25 over the sum of the idf of the query's words).
  Its score is `sim + share * (ceiling - sim)`, with
  `share = 1 - (1 - text_weight * t) * (1 - lead * t / t1)`: a lexical hit closes a
  share of the gap to the similarity ceiling (1 for cosine and inner product of unit
  vectors, 0 for L2), so every score stays in the similarity range, higher is better, a
  vector-only hit scores exactly its similarity, and lexical evidence never lowers a
  score. `lead` adapts the weight to how informative each side is for this query:
  `lead_weight * lexical_lead * (1 - vector_lead)`, where the lexical lead is the best
  lexical hit's lead over the runner-up (`(t1 - t2) / t1`, 1 for a sole hit) and the
  vector lead the best similarity's over the runner-up as a share of the runner-up's gap
  to the ceiling, divided by `vector_lead` and capped at 1 (a side whose best hit stands
  out is sure of it). Full text with a clear winner then outranks weak vectors (hashing
  embeddings, a pasted text), and sure vectors keep their order (measured on
  `bench/retrieval_bench.py`). A lexical hit without a vector takes the lowest similarity
  of the candidates as its own.

Items the query finds nothing for are still results (a query orders, it never removes):
after the ranked ones, newest first, with `score` their similarity (None without one).
"""

from __future__ import annotations

import functools
import re
import time

from langgraph_alma.errors import ConfigError

DISTANCE_TYPES = ("cosine", "l2", "inner_product")
VECTOR_TYPES = ("vector", "halfvec")
HNSW_MAX_DIMS = {"vector": 2000, "halfvec": 4000}  # pgvector's limits for HNSW
DEFAULT_TEXT_WEIGHT = 0.7
BM25_K1 = 1.2
BM25_B = 0.75
BM25_N_CAP = 10_000
BM25_MAX_DF = 2_000  # words in more items do not bring candidates (see _LEXICAL)
_CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_WORD = re.compile(r"[^\W_]+")


def check_text_config(name: str) -> str:
    """A text search configuration name (`english`, `simple`, `pg_catalog.french`...);
    it is sent as a bound parameter, this only rejects what cannot be one."""
    if not isinstance(name, str) or not _CONFIG_NAME.fullmatch(name):
        raise ConfigError(f"bad text search configuration {name!r}: use a name like 'english'")
    return name


def query_words(query: str) -> str:
    """The query's words separated by spaces, for `to_tsvector` (the query lexemes)."""
    return " ".join(dict.fromkeys(_WORD.findall(query.lower())))


def fusion_params(text_weight: float, lead_weight: float, vector_lead: float) -> dict[str, float]:
    """The fusion's statement parameters. `text_weight` 0 orders by vectors alone, so
    it turns the lead lift off too."""
    return {
        "text_weight": float(text_weight),
        "lead_weight": float(lead_weight) if text_weight > 0 else 0.0,
        "vector_lead": float(vector_lead),
    }


class LargeSets:
    """The (tenant, prefix) candidate sets a search lately counted above the exact bound,
    so the next searches of the set skip the count (see `_VECTOR`). Per store, bounded,
    each entry forgotten after `ttl` seconds; a set is only ever marked large by a count,
    so a wrong entry can only send a search through HNSW (its iterative scan fills the
    page), never into an exact scan of a large set."""

    def __init__(self, ttl: float = 60.0, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[tuple[str, str | None], float] = {}

    def __contains__(self, key: tuple[str, str | None]) -> bool:
        seen = self._seen.get(key)
        return seen is not None and time.monotonic() - seen < self.ttl

    def note(self, key: tuple[str, str | None], count: int | None, bound: int) -> None:
        """Record the gate's `count` for `key` (None: not counted, nothing learnt)."""
        if count is None:
            return
        if count <= bound:
            self._seen.pop(key, None)
            return
        if len(self._seen) >= self.size:  # drop the oldest entries (dicts keep order)
            for old in list(self._seen)[: self.size // 4]:
                self._seen.pop(old, None)
        self._seen.pop(key, None)
        self._seen[key] = time.monotonic()


class CollectionSizes:
    """BM25's collection size (the items of a tenant's prefix, counted up to `BM25_N_CAP`)
    per (tenant, prefix), as searches lately counted it, so the next searches of the
    prefix skip the count (`lex_stats`: it read every item of the prefix, 2.4 ms of a
    no-prefix search at 10k items). Per store, never shared across tenants, bounded, each
    entry forgotten after `ttl` seconds. A size a minute old only shifts the words' idf a
    little (it enters as `ln(1 + (N - df + 0.5) / (df + 0.5))`, with `N >= df` enforced),
    so it does not change what a ranking means."""

    def __init__(self, ttl: float = 60.0, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[tuple[str, str | None], tuple[float, float]] = {}

    def get(self, key: tuple[str, str | None]) -> float | None:
        """The size remembered for `key`, or None (the statement counts it)."""
        seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen[1] >= self.ttl:
            return None
        return seen[0]

    def note(self, key: tuple[str, str | None], n: float | None) -> None:
        """Record a search's count `n` (None: not counted, nothing learnt)."""
        if n is None:
            return
        if len(self._seen) >= self.size:  # drop the oldest entries (dicts keep order)
            for old in list(self._seen)[: self.size // 4]:
                self._seen.pop(old, None)
        self._seen.pop(key, None)
        self._seen[key] = (float(n), time.monotonic())


# -- vectors -------------------------------------------------------------------------

# Per distance type: the exact function (not an operator, which keeps HNSW out of the
# exact branch), the index operator, the similarity of a distance `d`, and the ceiling
# of the similarity range (fusion moves lexical hits toward it).
_DISTANCE = {
    "cosine": ("cosine_distance({a}, {b})", "{a} <=> {b}", "1 - {d}", "1.0"),
    "l2": ("l2_distance({a}, {b})", "{a} <-> {b}", "-({d})", "0.0"),
    "inner_product": (
        "(-inner_product({a}, {b}))",
        "{a} <#> {b}",
        "-({d})",
        "greatest(1.0, {max})",
    ),
}
COLUMN = {"vector": "embedding", "halfvec": "half"}


def vector_column(vector_type: str, dims: int, alias: str = "v") -> str:
    return f"{alias}.{COLUMN[vector_type]}::{vector_type}({int(dims)})"


# -- the statement -------------------------------------------------------------------

_LEXICAL = """
lexq AS MATERIALIZED (
    SELECT x.lexemes,
           (SELECT string_agg('(' || w.q::text || ')', ' | ')::tsquery
            FROM (SELECT plainto_tsquery('simple', l) AS q FROM unnest(x.lexemes) AS l) AS w
            WHERE numnode(w.q) > 0) AS q
    FROM (SELECT tsvector_to_array(to_tsvector(%(tscfg)s::regconfig, %(qwords)s)) AS lexemes)
         AS x
), lex_hits AS MATERIALIZED (
    -- one pass: the items holding any query word, up to `max_df` + 1 (one GIN lookup)
    SELECT m.ns_path COLLATE "C" AS ns_path, m.key, m.tsv
    FROM lexq, alma_store_text_matches(lexq.q, %(prefix)s, %(prefix_lo)s, %(prefix_hi)s,
                                       %(max_df)s::bigint + 1) AS m
    WHERE lexq.q IS NOT NULL
), lex_one AS MATERIALIZED (
    -- all of them fit: every word's frequency is counted among them, and they are the
    -- candidates (what the two passes below give then, without a second lookup)
    SELECT (SELECT count(*) FROM lex_hits) <= %(max_df)s AS pass
), lex_df AS MATERIALIZED (
    SELECT l.lexeme, (SELECT count(*) FROM lex_hits h
                      WHERE h.tsv @@ plainto_tsquery('simple', l.lexeme))::float8 AS df
    FROM lexq, unnest(lexq.lexemes) AS l(lexeme)
    WHERE (SELECT pass FROM lex_one)
    UNION ALL
    SELECT d.lexeme, d.df::float8 AS df
    FROM lexq, alma_store_text_df(lexq.lexemes, %(prefix)s, %(prefix_lo)s, %(prefix_hi)s) AS d
    WHERE NOT (SELECT pass FROM lex_one)
), lex_pick AS MATERIALIZED (
    -- (two passes) candidates come from the selective words (in at most `max_df` items),
    -- or from the rarest word when every word is common: bounded work, and an item
    -- holding only common words would rank low anyway
    SELECT array_to_string(array_agg(plainto_tsquery('simple', lexeme)::text), ' | ')::tsquery
               AS q
    FROM (SELECT lexeme, df, rank() OVER (ORDER BY df, lexeme) AS r FROM lex_df
          WHERE df > 0 AND NOT (SELECT pass FROM lex_one)) AS d
    WHERE df <= %(max_df)s OR r = 1
    HAVING count(*) > 0
), lex_terms AS MATERIALIZED (
    SELECT h.ns_path, h.key, t.lexeme,
           cardinality(t.positions)::float8 AS tf, length(h.tsv)::float8 AS dl
    FROM lexq, lex_hits h, unnest(h.tsv) AS t
    WHERE (SELECT pass FROM lex_one) AND t.lexeme = ANY (lexq.lexemes)
    UNION ALL
    SELECT m.ns_path COLLATE "C" AS ns_path, m.key, t.lexeme,
           cardinality(t.positions)::float8 AS tf, length(m.tsv)::float8 AS dl
    FROM lexq, lex_pick,
         alma_store_text_matches(lex_pick.q, %(prefix)s, %(prefix_lo)s, %(prefix_hi)s,
                                 %(max_df)s) AS m,
         unnest(m.tsv) AS t
    WHERE t.lexeme = ANY (lexq.lexemes)
), lex_known AS MATERIALIZED (
    -- the collection size the store remembers (`%(n)s`, see CollectionSizes), unless a
    -- word is now in more items than that (the prefix grew since: counted again)
    SELECT CASE WHEN %(n)s::float8 >= (SELECT coalesce(max(df), 0) FROM lex_df)
                THEN %(n)s::float8 END AS n
), lex_stats AS MATERIALIZED (
    -- the collection size: the remembered one, else counted (an InitPlan, run only when
    -- coalesce needs it)
    SELECT coalesce((SELECT n FROM lex_known), (SELECT count(*) FROM (
                SELECT 1 FROM alma_store s
                WHERE s.tenant_id = %(tenant)s AND {prefix} LIMIT {n_cap}) AS c)::float8) AS n,
           (SELECT n FROM lex_known) IS NULL AS counted,
           avg(dl) AS avgdl
    FROM lex_terms
    HAVING count(*) > 0
), lex_idf AS MATERIALIZED (
    SELECT f.lexeme,
           greatest(ln(1 + (greatest(st.n, f.df) - f.df + 0.5) / (f.df + 0.5)), 1e-6) AS idf
    FROM lex_df f CROSS JOIN lex_stats st
), lex AS MATERIALIZED (
    SELECT b.ns_path, b.key, b.bm25
    FROM (SELECT t.ns_path, t.key, sum(i.idf * t.tf * ({k1} + 1)
                     / (t.tf + {k1} * (1 - {b} + {b} * t.dl / greatest(st.avgdl, 1)))) AS bm25
          FROM lex_terms t JOIN lex_idf i USING (lexeme) CROSS JOIN lex_stats st
          GROUP BY t.ns_path, t.key
          ORDER BY bm25 DESC, t.ns_path, t.key OFFSET 0) AS b
    -- admitted (filter, liveness), probed per item in rank order until `k` pass: a
    -- subplan, not EXISTS (which a generic plan may turn into a scan of the prefix)
    WHERE coalesce((SELECT TRUE FROM alma_store s
                    WHERE s.tenant_id = %(tenant)s AND s.ns_path = b.ns_path
                      AND s.key = b.key AND {where}), FALSE)
    ORDER BY b.bm25 DESC, b.ns_path, b.key
    LIMIT %(k)s
), lex_top AS (
    -- the share of the query's information (the idf of all its words) an item matches
    SELECT ns_path, key, least(1.0, bm25 / (SELECT sum(idf) FROM lex_idf)) AS t FROM lex
)"""

# When the filtered candidate set is small, rank it exactly (full recall): both tables
# are read as ranges of their primary keys and joined. The set is counted (up to the
# bound) on the filter when there is one, else on the prefix alone, which an index-only
# scan of the primary key answers. Otherwise walk the HNSW index with
# an iterative scan, which keeps returning rows until enough pass the filters, and rank
# exactly the vectors puts wrote since the indexer last ran (`NOT v.indexed`, the
# backlog: a range of its partial btree, bounded by `store_index_backlog_max`).
# `(SELECT n FROM gate)` is a one-time gate: PostgreSQL runs only the branch whose
# gate is true. Counting up to the bound costs ~0.3-0.5 ms, a tenth of a no-prefix search,
# so the store remembers for a while the (tenant, prefix) sets it saw above the bound (the
# statement returns the gate's count as `gate_n`) and skips the count for them: a set
# that shrank meanwhile is walked through HNSW, whose iterative scan still fills the page.
_VECTOR = """
cand AS MATERIALIZED (
    -- the candidates, up to the bound + 1: counted by the gate, ranked by vec_exact
    {cand}
    LIMIT %(exact_max)s::bigint + 1
), gate AS MATERIALIZED (
    -- a candidate set the store saw above the bound lately (`large`) is not counted
    -- again: the count is an InitPlan, run only when the CASE needs it
    SELECT CASE WHEN %(large)s THEN %(exact_max)s::bigint + 1
                ELSE (SELECT count(*) FROM cand) END AS n
), vec_exact AS (
    {vec_exact}
), vec_ann AS (
    SELECT v.ns_path, v.key, {op} AS dist
    FROM alma_store_vectors v JOIN alma_store s
      ON s.tenant_id = v.tenant_id AND s.ns_path = v.ns_path AND s.key = v.key
    WHERE v.dims = {dims} AND v.indexed AND v.tenant_id = %(tenant)s AND {where}
      AND (SELECT n FROM gate) > %(exact_max)s::bigint
    ORDER BY {op}
    LIMIT %(k)s
), vec_backlog AS (
    SELECT c.ns_path, c.key, c.dist
    FROM (SELECT v.ns_path, v.key, {exact} AS dist FROM alma_store_vectors v
          WHERE v.tenant_id = %(tenant)s AND v.dims = {dims} AND NOT v.indexed AND {vwhere}
            AND {stored} IS NOT NULL AND (SELECT n FROM gate) > %(exact_max)s::bigint
          ORDER BY dist OFFSET 0) AS c
    WHERE coalesce((SELECT TRUE FROM alma_store s
                    WHERE s.tenant_id = %(tenant)s AND s.ns_path = c.ns_path
                      AND s.key = c.key AND {where}), FALSE)
    ORDER BY c.dist
    LIMIT %(k)s
), vec AS (
    SELECT ns_path, key, min(dist) AS dist
    FROM (SELECT * FROM vec_exact UNION ALL SELECT * FROM vec_ann
          UNION ALL SELECT * FROM vec_backlog) AS all_
    GROUP BY ns_path, key
)"""

# A filtered search's candidates are the admitted items (the filter reads their values);
# their vectors are then looked up by key.
_CAND_ITEMS = """SELECT s.ns_path, s.key FROM alma_store s
    WHERE s.tenant_id = %(tenant)s AND {where}"""
_EXACT_ITEMS = """SELECT v.ns_path, v.key, {exact} AS dist
    FROM cand c JOIN alma_store_vectors v
      ON v.tenant_id = %(tenant)s AND v.ns_path = c.ns_path AND v.key = c.key
    WHERE v.dims = {dims} AND {vwhere} AND {stored} IS NOT NULL
      AND (SELECT n FROM gate) <= %(exact_max)s::bigint
    ORDER BY dist
    LIMIT %(k)s"""
# An unfiltered search's candidates are the prefix's vectors, ranked straight from their
# table: at 100k items a namespace's 1,000 items lie on about as many pages of each
# table, and this reads one table, not two, once: the rows the gate counts carry their
# distance (a set the store knows is large is neither read nor counted here). The
# nearest are checked against the items (liveness) in rank order until `k` pass, so an
# expired item never takes a place.
_CAND_VECTORS = """SELECT v.ns_path, v.key, {exact} AS dist FROM alma_store_vectors v
    WHERE v.tenant_id = %(tenant)s AND {vwhere} AND v.dims = {dims} AND {stored} IS NOT NULL
      AND NOT %(large)s"""
_EXACT_VECTORS = """SELECT c.ns_path, c.key, c.dist
    FROM (SELECT cand.ns_path, cand.key, cand.dist FROM cand
          WHERE (SELECT n FROM gate) <= %(exact_max)s::bigint
          ORDER BY dist OFFSET 0) AS c
    -- a subplan, not EXISTS (which the planner would turn into a join over every
    -- candidate): probed per candidate in rank order, stopping at `k`
    WHERE coalesce((SELECT TRUE FROM alma_store s
                    WHERE s.tenant_id = %(tenant)s AND s.ns_path = c.ns_path
                      AND s.key = c.key AND {where}), FALSE)
    ORDER BY c.dist
    LIMIT %(k)s"""

# The best similarity of an item's vectors (one per embedded field), for items the
# vector side did not return.
_ITEM_DIST = """(SELECT min({exact}) FROM alma_store_vectors v
      WHERE v.tenant_id = %(tenant)s AND v.ns_path = {alias}.ns_path AND v.key = {alias}.key
        AND v.dims = {dims} AND {stored} IS NOT NULL)"""

_FUSE_HYBRID = """
lex_vec AS (
    SELECT l.ns_path, l.key, min({exact}) AS dist
    FROM lex l JOIN alma_store_vectors v
      ON v.tenant_id = %(tenant)s AND v.ns_path = l.ns_path AND v.key = l.key
    WHERE v.dims = {dims} AND {stored} IS NOT NULL
    GROUP BY l.ns_path, l.key
), pool AS MATERIALIZED (
    SELECT ns_path, key, lex.t, {sim_of_dist} AS sim
    FROM vec FULL JOIN lex_top lex USING (ns_path, key) LEFT JOIN lex_vec USING (ns_path, key)
), leads AS MATERIALIZED (
    -- each side's best hit and runner-up (see `fusion` in the module docstring)
    SELECT (SELECT t FROM pool WHERE t IS NOT NULL ORDER BY t DESC LIMIT 1) AS t1,
           (SELECT t FROM pool WHERE t IS NOT NULL ORDER BY t DESC OFFSET 1 LIMIT 1) AS t2,
           (SELECT sim FROM pool WHERE sim IS NOT NULL ORDER BY sim DESC LIMIT 1) AS s1,
           (SELECT sim FROM pool WHERE sim IS NOT NULL ORDER BY sim DESC OFFSET 1 LIMIT 1)
               AS s2
), lift AS MATERIALIZED (
    -- the lead weight of this query: the lexical side's lead times the vector side's lack
    -- of one (each in [0, 1])
    SELECT t1, %(lead_weight)s
             * coalesce((t1 - t2) / nullif(t1, 0), 1.0)
             * (1.0 - coalesce(least(1.0, (s1 - s2)
                   / greatest({lead_ceiling} - s2, 1e-9) / %(vector_lead)s), 1.0)) AS a
    FROM leads
), ranked AS MATERIALIZED (
    SELECT ns_path, key, sim, t,
           base + (1.0 - (1.0 - %(text_weight)s * coalesce(t, 0))
                       * (1.0 - coalesce(lift.a * t / nullif(lift.t1, 0), 0)))
                  * (ceiling - base) AS score
    FROM (SELECT ns_path, key, sim, t, {ceiling} AS ceiling,
                 coalesce(sim, min(sim) OVER (), {ceiling} - 1.0) AS base
          FROM pool) AS p CROSS JOIN lift
    ORDER BY score DESC, ns_path, key
    LIMIT %(need)s
)"""

_FUSE_TEXT = """
ranked AS MATERIALIZED (
    SELECT ns_path, key, NULL::float8 AS sim, t, t AS score
    FROM lex_top
    ORDER BY score DESC, ns_path, key
    LIMIT %(need)s
)"""

# Items the query found nothing for still follow, newest first (only looked up when the
# ranked ones do not fill the page).
_REST_AND_PAGE = """
, rest AS (
    SELECT s.ns_path, s.key, s.updated_at FROM alma_store s
    WHERE s.tenant_id = %(tenant)s AND {where}
      AND (SELECT count(*) FROM ranked) < %(need)s
      AND NOT EXISTS (SELECT 1 FROM ranked r WHERE r.ns_path = s.ns_path AND r.key = s.key)
    ORDER BY s.updated_at DESC, s.ns_path, s.key
    LIMIT %(need)s
), ordered AS MATERIALIZED (
    SELECT ns_path, key, score, sim, t, NULL::timestamptz AS newest FROM ranked
    UNION ALL
    SELECT ns_path, key, NULL, NULL, NULL, updated_at FROM rest
    ORDER BY newest DESC NULLS FIRST, score DESC, ns_path, key
    LIMIT %(limit)s OFFSET %(offset)s
), page AS (
    SELECT s.ns_path, s.key, s.value, s.created_at, s.updated_at, o.newest, o.t,
           coalesce(o.sim, {rest_sim}) AS sim, o.score
    FROM ordered o JOIN alma_store s
      ON s.tenant_id = %(tenant)s AND s.ns_path = o.ns_path AND s.key = o.key
){refresh}
SELECT ns_path, key, value, created_at, updated_at,
       coalesce(score, sim)::float8 AS score, sim::float8 AS similarity, t::float8 AS text_score
       {gate_n}, (SELECT n FROM lex_stats WHERE counted) AS lex_n
FROM page
ORDER BY newest DESC NULLS FIRST, page.score DESC, ns_path, key
"""


@functools.lru_cache(maxsize=512)  # a pure function of its text and flags: build it once
def search_statement(
    where: str,
    prefix: str,
    refresh: str,
    *,
    dims: int | None = None,
    vector_type: str = "vector",
    distance_type: str = "cosine",
    vwhere: str = "TRUE",
    filtered: bool = True,
) -> str:
    """A query search in one statement: lexical alone (`dims=None`) or hybrid.

    `where` admits items (`s.`: liveness, prefix, filter); `prefix` is the prefix
    condition alone (`s.`, the collection BM25 counts); `vwhere` restricts vector rows
    (`v.`) by namespace, so the exact branch reads a key range; `filtered` says whether
    `where` holds a filter (the candidates are then items, else vectors); `refresh` is
    the TTL refresh CTE (or "")."""
    lexical = (
        _LEXICAL.replace("{k1}", str(BM25_K1))
        .replace("{b}", str(BM25_B))
        .replace("{n_cap}", str(int(BM25_N_CAP)))
    )
    if dims is None:
        body = "WITH" + lexical + "," + _FUSE_TEXT
        rest_sim = "NULL::float8"
        gate_n = ""
    else:
        exact_t, op_t, sim_t, ceiling = _DISTANCE[distance_type]
        col = vector_column(vector_type, dims)
        qvec = f"%(qvec)s::{vector_type}({int(dims)})"
        # The exact paths cast only rows of these dims, whatever order the planner
        # evaluates quals in (a privileged search reads every tenant's rows, of any dims).
        stored = f"v.{COLUMN[vector_type]}"
        safe_col = f"(CASE WHEN v.dims = {int(dims)} THEN {stored} END)::{vector_type}({int(dims)})"
        exact = exact_t.format(a=safe_col, b=qvec)
        item_dist = _ITEM_DIST.format(exact=exact, stored=stored, dims=int(dims), alias="{alias}")
        cand, vec_exact = (
            (_CAND_ITEMS, _EXACT_ITEMS) if filtered else (_CAND_VECTORS, _EXACT_VECTORS)
        )
        vector = (
            _VECTOR.replace("{cand}", cand)
            .replace("{vec_exact}", vec_exact)
            .replace("{exact}", exact)
            .replace("{op}", op_t.format(a=col, b=qvec))
            .replace("{stored}", stored)
        )
        sim_of_dist = sim_t.format(d="coalesce(vec.dist, lex_vec.dist)")
        fuse = (
            _FUSE_HYBRID.replace("{sim_of_dist}", sim_of_dist)
            .replace("{lead_ceiling}", ceiling.format(max="s1"))
            .replace("{ceiling}", ceiling.format(max="max(sim) OVER ()"))
            .replace("{exact}", exact)
            .replace("{stored}", stored)
        )
        body = "WITH" + lexical + "," + vector + "," + fuse
        rest_sim = sim_t.format(d=item_dist.format(alias="o"))
        body = body.replace("{dims}", str(int(dims)))
        rest_sim = rest_sim.replace("{dims}", str(int(dims)))
        gate_n = ", CASE WHEN NOT %(large)s THEN (SELECT n FROM gate) END AS gate_n"
    text = body + (
        _REST_AND_PAGE.replace("{rest_sim}", rest_sim)
        .replace("{refresh}", refresh)
        .replace("{gate_n}", gate_n)
    )
    return text.replace("{vwhere}", vwhere).replace("{prefix}", prefix).replace("{where}", where)
