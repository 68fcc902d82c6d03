"""Is the schema ready to be distributed by `tenant_id` (Citus)? Checked, not assumed.

Two halves:
- the catalog after every migration: each table of ours leads its primary key and every
  unique index with `tenant_id`, and each foreign key carries `tenant_id` on both sides;
- the statements the package sends: a workload drives the saver, the store, the memory
  facade, graph memory, workflow checkpoints and progress while every statement is
  recorded (at the psycopg cursor, on a real server), then each is parsed with PostgreSQL's
  own parser (pglast) and every reference to a tenant table must be pinned to one tenant:
  an equality of its `tenant_id` with a bound parameter, or with the `tenant_id` of a
  reference that is (a colocated join). A statement that cannot be routed to one shard
  must be one of the documented maintenance statements (docs/scaling.md).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.graph import START, StateGraph

from langgraph_alma import AlmaSaver, WorkflowContext
from langgraph_alma.alma import Alma
from langgraph_alma.progress import ProgressTracker
from tests.conftest import Database

pglast = pytest.importorskip("pglast")
from pglast import ast  # noqa: E402

# Statements that touch every tenant on purpose: maintenance run by a privileged role
# (docs/scaling.md says how Citus runs them: on every shard, as a distributed function).
MULTI_TENANT_BY_DESIGN = {
    "alma_store_sweep",  # TTL sweep of every tenant's expired items
    "alma_store_build_ann",  # the shared HNSW index, built once its dims has enough vectors
    "alma_store_ann_ddl",  # the same build, concurrently, on the owner's connection
}


def _tenant_tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
    ).fetchall()
    return {r[0] for r in rows}


def test_keys_lead_with_tenant_id(database: Database) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        tables = _tenant_tables(conn)
        assert {"alma_checkpoints", "alma_store", "alma_entities"} <= tables
        every = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND c.relname LIKE 'alma%%'"
        ).fetchall()
        # Tables without a tenant column are ours to keep on the coordinator (reference).
        assert {r[0] for r in every} - tables == {"alma_migrations"}
        # Every unique index (primary keys included) starts with tenant_id.
        indexes = conn.execute(
            "SELECT t.relname, i.relname, a.attname FROM pg_index x "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
            "WHERE x.indisunique AND t.relname = ANY(%s)",
            (sorted(tables),),
        ).fetchall()
        assert indexes
        bad = [(t, i, first) for t, i, first in indexes if first != "tenant_id"]
        assert not bad, f"unique indexes not led by tenant_id: {bad}"
        # Every primary key exists.
        for table in tables:
            pk = conn.execute(
                "SELECT 1 FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                (table,),
            ).fetchone()
            assert pk, f"{table} has no primary key"
        # Every foreign key includes tenant_id on both sides.
        fks = conn.execute(
            "SELECT conrelid::regclass::text, conname, "
            "  (SELECT array_agg(attname) FROM pg_attribute "
            "   WHERE attrelid = conrelid AND attnum = ANY(conkey)), "
            "  (SELECT array_agg(attname) FROM pg_attribute "
            "   WHERE attrelid = confrelid AND attnum = ANY(confkey)) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            (sorted(tables),),
        ).fetchall()
        assert fks
        for table, name, cols, refcols in fks:
            assert "tenant_id" in cols and "tenant_id" in refcols, (table, name, cols, refcols)


# -- the statements --------------------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement text executed through psycopg cursors while the test runs."""
    seen: list[str] = []

    def wrap(cls: type) -> None:
        original = cls.execute

        def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query if isinstance(query, str) else query.as_string(self.connection)
            seen.append(text)
            return original(self, query, *args, **kwargs)

        monkeypatch.setattr(cls, "execute", execute)

    wrap(psycopg.Cursor)
    wrap(psycopg.ClientCursor)
    yield seen


class _State(TypedDict):
    log: Annotated[list[str], operator.add]


def _workload(url: str, tenant: str) -> None:
    with Alma.connect(url, tenant_id=tenant, project_id="shop", setup=False) as alma:
        for i in range(4):
            alma.learn("helena", f"test the form {i}", "success", "happy path", task_type="testing")
        alma.learn("helena", "test the form", "failure", "skip checks", task_type="testing")
        alma.add_user_preference("ana", "style", "No emojis")
        alma.add_domain_knowledge("helena", "testing", "forms need labels")
        alma.retrieve("test the signup form", agent="helena", user_id="ana")
        alma.get_stats()
        ctx = WorkflowContext(tenant_id=tenant, workflow_id="wf", run_id="run-1")
        alma.checkpoint(ctx, "node", {"i": 1})
        alma.get_resume_point("run-1")
        a = alma.graph.add_entity("module", "cart")
        b = alma.graph.add_entity("module", "checkout")
        alma.graph.add_relationship(a, "calls", b)
        alma.graph.neighbors(a)
        alma.graph.path(a, b)
        alma.forget(agent="helena", older_than_days=0)
        tracker = ProgressTracker(alma.store, project_id="shop")
        item = tracker.create_work_item("an item")
        tracker.update_status(item.id, "in_progress")
        tracker.get_progress_summary()

    with AlmaSaver.from_conn_string(url, tenant_id=tenant) as saver:
        builder = StateGraph(_State)
        builder.add_node("a", lambda s: {"log": ["a"]})
        builder.add_node("b", lambda s: {"log": ["b"]})
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        graph = builder.compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "dist-1"}}
        for _ in range(3):
            graph.invoke({"log": []}, cfg)
        list(graph.get_state_history(cfg))
        saver.copy_thread("dist-1", "dist-2")
        saver.prune(["dist-2"], strategy="keep_latest")
        saver.delete_thread("dist-2")


def _walk(node: Any) -> Iterator[Any]:
    if isinstance(node, list | tuple):
        for x in node:
            yield from _walk(x)
    elif isinstance(node, ast.Node):
        yield node
        for slot in node.__slots__:
            yield from _walk(getattr(node, slot))


def _column(node: Any) -> tuple[str, ...] | None:
    if isinstance(node, ast.ColumnRef):
        return tuple(getattr(f, "sval", "*") for f in node.fields)
    if isinstance(node, ast.TypeCast):
        return _column(node.arg)
    return None


def _is_bound(node: Any) -> bool:
    if isinstance(node, ast.TypeCast):
        return _is_bound(node.arg)
    return isinstance(node, ast.ParamRef | ast.A_Const)


def unroutable(sql: str, tenant_tables: set[str]) -> list[str]:
    """The tenant-table references of `sql` not pinned to one tenant (empty: routable)."""
    text = re.sub(r"%\(\w+\)[sbt]|%[sbt]", "$1", sql).replace("%%", "%")
    problems: list[str] = []
    for raw in pglast.parse_sql(text):
        nodes = list(_walk(raw.stmt))
        refs = [n for n in nodes if isinstance(n, ast.RangeVar) and n.relname in tenant_tables]
        if not refs:
            continue
        # An INSERT that names tenant_id sends each row to its tenant's shard (row-level
        # security's WITH CHECK keeps them all one tenant's).
        inserted = {
            id(n.relation)
            for n in nodes
            if isinstance(n, ast.InsertStmt) and "tenant_id" in [c.name for c in n.cols or ()]
        }
        refs = [r for r in refs if id(r) not in inserted]
        pinned_names: set[str] = set()
        joined: list[tuple[str, str]] = []
        for n in nodes:
            if not (isinstance(n, ast.A_Expr) and [s.sval for s in n.name] == ["="]):
                continue
            left, right = _column(n.lexpr), _column(n.rexpr)
            for col, other in ((left, n.rexpr), (right, n.lexpr)):
                if col and col[-1] == "tenant_id" and _is_bound(other):
                    pinned_names.add(col[0] if len(col) > 1 else "")
            if left and right and left[-1] == right[-1] == "tenant_id":
                joined.append(
                    (left[0] if len(left) > 1 else "", right[0] if len(right) > 1 else "")
                )
        # A join on tenant_id with a pinned reference pins the other side too.
        changed = True
        while changed:
            changed = False
            for a, b in joined:
                if (a in pinned_names) != (b in pinned_names):
                    pinned_names |= {a, b}
                    changed = True
        for ref in refs:
            name = ref.alias.aliasname if ref.alias else ref.relname
            if name not in pinned_names and "" not in pinned_names:
                problems.append(ref.relname)
    return problems


def test_every_statement_is_pinned_to_one_tenant(
    database: Database, tenant: str, recorded: list[str]
) -> None:
    _workload(database.url, tenant)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        tables = _tenant_tables(conn)
    statements = list(dict.fromkeys(recorded))
    touching = [s for s in statements if any(t in s for t in tables)]
    assert len(touching) >= 25, "the workload should exercise most statements"
    offenders = {}
    for sql in touching:
        if any(name in sql for name in MULTI_TENANT_BY_DESIGN):
            continue
        if problems := unroutable(sql, tables):
            offenders[sql.strip()[:300]] = problems
    assert not offenders, "\n\n".join(f"{p}: {s}" for s, p in offenders.items())


def test_the_checker_catches_a_cross_tenant_statement() -> None:
    tables = {"alma_store", "alma_checkpoints"}
    assert unroutable("SELECT * FROM alma_store s WHERE s.key = %(k)s", tables)
    assert unroutable(
        "SELECT * FROM alma_store s JOIN alma_checkpoints c ON c.thread_id = s.key "
        "WHERE s.tenant_id = %(t)s",
        tables,
    ) == ["alma_checkpoints"]
    assert not unroutable(
        "SELECT * FROM alma_store s JOIN alma_checkpoints c ON c.tenant_id = s.tenant_id "
        "WHERE s.tenant_id = %(t)s",
        tables,
    )
    # A recursive step joined only to the CTE: the router cannot see its tenant.
    recursive = (
        "WITH RECURSIVE r AS (SELECT * FROM alma_checkpoints c WHERE c.tenant_id = %s "
        "UNION ALL SELECT p.* FROM alma_checkpoints p JOIN r ON p.tenant_id = r.tenant_id "
        "AND p.checkpoint_id = r.parent_checkpoint_id{}) SELECT * FROM r"
    )
    assert unroutable(recursive.format(""), tables) == ["alma_checkpoints"]
    assert not unroutable(recursive.format(" AND p.tenant_id = %s"), tables)
