"""Two tenants on one database: Acme and Globex run the same chat agent (from
`chat_agent.py`) with the same thread ids, agent name and project, and neither sees the
other's checkpoints or memories.

Isolation is PostgreSQL's: every row leads with `tenant_id`, row-level security compares
it with a transaction-local setting, and the library's role (`alma_app`) cannot bypass
it. The example shows each tenant's thread and answers holding only its own data, a
store bound to Acme finding nothing of Globex's, a raw SQL query as Acme asking for
Globex's rows by name and getting none, `TenantMismatch` when a config bound to Acme
names Globex, and the privileged (admin role) view listing both tenants.

    python examples/multi_tenant.py     # embedded server, or ALMA_DATABASE_URL
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from _scripted_model import chat_model
from chat_agent import AGENT, QUESTION, build_graph
from langchain_core.messages import HumanMessage

from langgraph_alma import AlmaStore, TenantMismatch
from langgraph_alma.alma import Alma
from langgraph_alma.db import connect
from langgraph_alma.db.connect import resolve
from langgraph_alma.db.plan import SET_TENANT
from langgraph_alma.embeddings import HashingEmbeddings

TENANTS = {"acme": "PostgreSQL", "globex": "MongoDB"}  # what each one's user tells the agent
PROJECT = "support"


def converse(alma: Alma, thread: str, database: str) -> dict[str, Any]:
    """The tenant's user states a fact in one thread and asks in another; returns the
    answer and the first thread's messages as the tenant sees them."""
    graph = build_graph(alma, chat_model()).compile(checkpointer=alma.saver, store=alma.store)

    def say(thread_id: str, text: str) -> dict[str, Any]:
        config = {"configurable": {"thread_id": thread_id, "agent": AGENT}}
        return graph.invoke({"messages": [HumanMessage(text)], "user_id": "dana"}, config)

    say(thread, f"I prefer concise answers. My project uses {database}.")
    answer = say(f"{thread}-q", QUESTION)["messages"][-1].text
    seen = graph.get_state({"configurable": {"thread_id": thread}}).values["messages"]
    return {"answer": answer, "thread": [m.text for m in seen]}


def rows_visible_as(url: str | None, tenant: str, thread: str) -> dict[str, dict[str, int]]:
    """Rows per tenant that raw queries (which name no tenant) find when row-level security
    acts for `tenant`: store items, and checkpoints of `thread`."""
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT " + SET_TENANT, {"tenant": tenant})
        items = conn.execute("SELECT tenant_id, count(*) FROM alma_store GROUP BY 1").fetchall()
        checkpoints = conn.execute(
            "SELECT tenant_id, count(*) FROM alma_checkpoints WHERE thread_id = %s GROUP BY 1",
            (thread,),
        ).fetchall()
    return {"store": dict(items), "checkpoints": dict(checkpoints)}


def main(url: str | None = None, admin_url: str | None = None) -> dict[str, Any]:
    """Run both tenants; `url` is a migrated database's application-role URL (None:
    `ALMA_DATABASE_URL` or the embedded server, migrated here) and `admin_url` its admin
    role's for the privileged view (with no `url`, the configured one). Returns what
    each tenant saw."""
    run = uuid.uuid4().hex[:8]
    thread, project = f"support-{run}", f"{PROJECT}-{run}"  # the same for both tenants
    seen: dict[str, Any] = {"thread": thread}
    almas = {
        tenant: Alma.connect(
            url, tenant, project, embeddings=HashingEmbeddings(256), setup=url is None
        )
        for tenant in TENANTS
    }
    try:
        for tenant, database in TENANTS.items():
            seen[tenant] = converse(almas[tenant], thread, database)
            print(f"{tenant}: thread {thread!r} holds {seen[tenant]['thread']}")
            print(f"{tenant}: asked {QUESTION!r} -> {seen[tenant]['answer']}")

        acme = almas["acme"]
        hits = acme.store.search(("alma",), query="MongoDB", limit=50)
        seen["acme_store_finds_globex"] = [h.value for h in hits if "MongoDB" in str(h.value)]
        print(f"acme's store searching for 'MongoDB' finds: {seen['acme_store_finds_globex']}")
        seen["rows_visible_as_acme"] = rows_visible_as(url, "acme", thread)
        print(f"raw SQL as acme, with no tenant filter, counts: {seen['rows_visible_as_acme']}")
        try:
            acme.saver.get_tuple({"configurable": {"thread_id": thread, "tenant_id": "globex"}})
        except TenantMismatch as exc:
            seen["mismatch"] = exc
            print(f"acme's saver given a config naming globex: TenantMismatch: {exc}")
    finally:
        for alma in almas.values():
            alma.close()

    if url is not None and admin_url is None:
        print("no admin URL given: the privileged view is skipped")
        return seen
    admin_url = admin_url or resolve(url).admin_url
    with AlmaStore.from_conn_string(url, privileged=True, admin_url=admin_url) as admin:
        seen["tenants"] = admin.list_tenants()
        mongo = admin.for_tenant("globex").search(("alma",), query="MongoDB", limit=50)
        seen["admin_reads_globex"] = any("MongoDB" in str(h.value) for h in mongo)
    with psycopg.connect(admin_url) as conn:  # the admin role bypasses row-level security
        seen["admin_checkpoints"] = dict(
            conn.execute(
                "SELECT tenant_id, count(*) FROM alma_checkpoints WHERE thread_id = %s GROUP BY 1",
                (thread,),
            ).fetchall()
        )
    print(f"the admin role (privileged store) lists tenants: {seen['tenants']}")
    print(f"the admin role counts checkpoints of {thread!r}: {seen['admin_checkpoints']}")
    return seen


if __name__ == "__main__":
    main()
