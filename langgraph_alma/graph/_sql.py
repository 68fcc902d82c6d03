"""SQL of graph memory, in one place. Every value is a bound parameter; the only text
spliced into a statement is the constant fragments below (`ref_where`, the filters),
chosen by code, never by data. Every statement names its tenant and project, so each
reads only through the (tenant_id, project_id, ...) indexes, and row-level security checks
the tenant against `alma.tenant_id` (set by the first statement of every batch).

Traversals are recursive CTEs. `neighbors` and `expand` walk breadth first over distinct
(entity, hops) pairs (UNION, not UNION ALL), so a cycle or a dense neighbourhood costs at
most entities x depth rows. `path` needs the route, so it carries the visited entities and
refuses to revisit one; PostgreSQL evaluates a recursive CTE one level at a time and only
as far as the query reads it, so `LIMIT 1` on the target stops at the shortest route.
"""

from __future__ import annotations

ENTITY_COLUMNS = (
    "tenant_id", "project_id", "id", "entity_type", "name", "properties",
    "agent", "workflow_id", "run_id", "node_id", "created_at", "updated_at",
)  # fmt: skip
RELATIONSHIP_COLUMNS = (
    "tenant_id", "project_id", "id", "source_id", "target_id", "relation_type", "properties",
    "weight", "agent", "workflow_id", "run_id", "node_id", "created_at", "updated_at",
)  # fmt: skip


def columns(alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{name}" for name in names)


E = columns("e", ENTITY_COLUMNS)
R = columns("r", RELATIONSHIP_COLUMNS)
SCOPE = "{a}.tenant_id = %(tenant)s AND {a}.project_id = %(project)s"


def ref_where(alias: str, prefix: str, by_id: bool) -> str:
    """The condition naming one entity: by id (primary key) or by (type, name) (the
    unique key); parameters `{prefix}_id`, or `{prefix}_type` and `{prefix}_name`."""
    if by_id:
        return f"{alias}.id = %({prefix}_id)s"
    return (
        f"{alias}.entity_type = %({prefix}_type)s "
        f"AND lower({alias}.name) = lower(%({prefix}_name)s)"
    )


UPSERT_ENTITY = f"""
INSERT INTO alma_entities AS e
    (tenant_id, project_id, id, entity_type, name, properties,
     agent, workflow_id, run_id, node_id)
VALUES (%(tenant)s, %(project)s, %(id)s, %(type)s, %(name)s, %(properties)s,
        %(agent)s, %(workflow_id)s, %(run_id)s, %(node_id)s)
ON CONFLICT (tenant_id, project_id, entity_type, lower(name)) DO UPDATE
SET properties = e.properties || EXCLUDED.properties,
    -- the scope an entity was first learned in stays; a missing one is filled in
    agent = coalesce(e.agent, EXCLUDED.agent),
    workflow_id = coalesce(e.workflow_id, EXCLUDED.workflow_id),
    run_id = coalesce(e.run_id, EXCLUDED.run_id),
    node_id = coalesce(e.node_id, EXCLUDED.node_id),
    updated_at = now()
RETURNING {E}"""

GET_ENTITY = f"SELECT {E} FROM alma_entities e WHERE {SCOPE.format(a='e')} AND {{ref}}"

# Locks the endpoints of a new edge against a concurrent delete until the edge is written.
RESOLVE_FOR_EDGE = (
    f"SELECT e.id, e.entity_type FROM alma_entities e WHERE {SCOPE.format(a='e')} AND {{ref}} "
    "FOR KEY SHARE"
)

EXISTS_ENTITY = f"SELECT e.id FROM alma_entities e WHERE {SCOPE.format(a='e')} AND {{ref}}"

UPSERT_RELATIONSHIP = f"""
INSERT INTO alma_relationships AS r
    (tenant_id, project_id, id, source_id, target_id, relation_type, properties, weight,
     agent, workflow_id, run_id, node_id)
VALUES (%(tenant)s, %(project)s, %(id)s, %(source)s, %(target)s, %(type)s, %(properties)s,
        %(weight)s, %(agent)s, %(workflow_id)s, %(run_id)s, %(node_id)s)
ON CONFLICT (tenant_id, project_id, source_id, target_id, relation_type) DO UPDATE
SET properties = r.properties || EXCLUDED.properties,
    weight = EXCLUDED.weight,
    agent = coalesce(r.agent, EXCLUDED.agent),
    workflow_id = coalesce(r.workflow_id, EXCLUDED.workflow_id),
    run_id = coalesce(r.run_id, EXCLUDED.run_id),
    node_id = coalesce(r.node_id, EXCLUDED.node_id),
    updated_at = now()
RETURNING {R}"""

DELETE_ENTITY = (
    f"DELETE FROM alma_entities e WHERE {SCOPE.format(a='e')} AND {{ref}} RETURNING e.id"
)

FIND_ENTITIES = f"""
SELECT {E} FROM alma_entities e
WHERE {SCOPE.format(a="e")} {{filters}}
ORDER BY {{order}}
LIMIT %(limit)s"""
FIND_BY_NAME = " AND lower(e.name) = lower(%(name)s)"
FIND_BY_TYPE = " AND e.entity_type = %(type)s"
FIND_BY_TEXT = " AND e.tsv @@ to_tsquery('simple', %(text)s)"
ORDER_BY_NAME = "e.name, e.entity_type, e.id"
ORDER_BY_RANK = "ts_rank(e.tsv, to_tsquery('simple', %(text)s)) DESC, " + ORDER_BY_NAME

_TYPES = "(%(types)s::text[] IS NULL OR r.relation_type = ANY (%(types)s::text[]))"

# The edges leaving entity `{w}.entity_id` in the walk's direction(s), as (next_id, rel_id).
STEP = f"""
    SELECT r.target_id AS next_id, r.id AS rel_id FROM alma_relationships r
    WHERE %(out)s AND {SCOPE.format(a="r")} AND r.source_id = {{w}}.entity_id AND {_TYPES}
  UNION ALL
    SELECT r.source_id, r.id FROM alma_relationships r
    WHERE %(in)s AND {SCOPE.format(a="r")} AND r.target_id = {{w}}.entity_id AND {_TYPES}"""

# Breadth-first distances from the entities of a `start (id)` CTE, up to %(depth)s hops.
WALK = f"""
walk (entity_id, hops) AS (
    SELECT id, 0 FROM start
  UNION
    SELECT step.next_id, walk.hops + 1
    FROM walk, LATERAL ({STEP.format(w="walk")}) AS step
    WHERE walk.hops < %(depth)s
),
nearest AS MATERIALIZED (SELECT entity_id, min(hops) AS hops FROM walk GROUP BY entity_id)"""

# Each entity within reach, its distance, and one edge that reaches it from an entity one
# hop nearer (the heaviest; ties by age), as entity columns, hops, relationship columns.
NEIGHBORS = f"""
WITH RECURSIVE start AS (
    SELECT e.id FROM alma_entities e WHERE {SCOPE.format(a="e")} AND {{ref}}
),
{WALK}
SELECT {E}, x.hops, {columns("via", RELATIONSHIP_COLUMNS)}
FROM nearest x
JOIN alma_entities e ON {SCOPE.format(a="e")} AND e.id = x.entity_id
CROSS JOIN LATERAL (
    SELECT r.* FROM nearest p
    JOIN alma_relationships r ON {SCOPE.format(a="r")}
     AND ((%(out)s AND r.source_id = p.entity_id AND r.target_id = x.entity_id)
       OR (%(in)s AND r.target_id = p.entity_id AND r.source_id = x.entity_id))
    WHERE p.hops = x.hops - 1 AND {_TYPES}
    ORDER BY r.weight DESC, r.created_at, r.id
    LIMIT 1
) AS via
WHERE x.hops > 0
ORDER BY x.hops, e.name, e.id
LIMIT %(limit)s"""

# The entities named in %(names)s (lower case, any type) and those within %(depth)s hops.
EXPAND_ENTITIES = f"""
WITH RECURSIVE start AS (
    SELECT e.id FROM alma_entities e
    WHERE {SCOPE.format(a="e")} AND lower(e.name) = ANY (%(names)s::text[])
),
{WALK}
SELECT {E}, x.hops
FROM nearest x
JOIN alma_entities e ON {SCOPE.format(a="e")} AND e.id = x.entity_id
ORDER BY x.hops, e.name, e.id
LIMIT %(limit)s"""

# The edges among a set of entities.
EDGES_AMONG = f"""
SELECT {R} FROM alma_relationships r
WHERE {SCOPE.format(a="r")} AND r.source_id = ANY (%(ids)s::text[])
  AND r.target_id = ANY (%(ids)s::text[]) AND {_TYPES}
ORDER BY r.weight DESC, r.created_at, r.id"""

# The shortest route from {src} to {dst}: source id, target id (NULL if either does not
# exist), whether a route was found, then one row per edge in order (none for an empty
# route, source = target). Enumerating routes is exponential in a dense graph when the
# target is out of reach, so the cheap breadth-first walk decides reachability first and
# `route` is only read (a one-time filter) when the target is within %(depth)s hops.
PATH = f"""
WITH RECURSIVE start AS (
    SELECT e.id FROM alma_entities e WHERE {SCOPE.format(a="e")} AND {{src}}
),
dst AS (
    SELECT e.id FROM alma_entities e WHERE {SCOPE.format(a="e")} AND {{dst}}
),
{WALK},
route (entity_id, hops, nodes, rels) AS (
    SELECT id, 0, ARRAY[id], ARRAY[]::text[] FROM start
  UNION ALL
    SELECT step.next_id, route.hops + 1, route.nodes || step.next_id, route.rels || step.rel_id
    FROM route, LATERAL ({STEP.format(w="route")}) AS step
    WHERE route.hops < %(depth)s
      AND route.entity_id IS DISTINCT FROM (SELECT id FROM dst)
      AND step.next_id <> ALL (route.nodes)          -- no cycles
),
found AS (
    SELECT rels FROM route
    WHERE entity_id = (SELECT id FROM dst)
      AND EXISTS (SELECT 1 FROM nearest WHERE entity_id = (SELECT id FROM dst))
    LIMIT 1
)
SELECT (SELECT id FROM start), (SELECT id FROM dst), f.rels IS NOT NULL, {R}
FROM (SELECT 1) AS one
LEFT JOIN found f ON true
LEFT JOIN LATERAL unnest(f.rels) WITH ORDINALITY AS u (id, ord) ON true
LEFT JOIN alma_relationships r ON {SCOPE.format(a="r")} AND r.id = u.id
ORDER BY u.ord"""
