-- Graph memory: entities and the typed, weighted relationships between them, per tenant
-- and project. An entity is identified by (entity_type, lower(name)) within its project,
-- so learning the same thing twice upserts it. Relationship keys include project_id, so an
-- edge can never join two projects (or two tenants), and deleting an entity deletes its
-- edges. Traversals read edges by (tenant, project, source) and (tenant, project, target).

CREATE TABLE IF NOT EXISTS alma_entities (
    tenant_id   text NOT NULL CHECK (tenant_id <> ''),
    project_id  text NOT NULL DEFAULT 'default',
    id          text NOT NULL,
    entity_type text NOT NULL CHECK (entity_type <> ''),
    name        text NOT NULL CHECK (name <> ''),
    properties  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    agent       text,
    workflow_id text,
    run_id      text,
    node_id     text,
    -- Words of the name and of the string property values, for find_entities(text=...).
    tsv         tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, name)
        || jsonb_to_tsvector('simple'::regconfig, properties, '["string"]')) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, project_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS alma_entities_key_idx
    ON alma_entities (tenant_id, project_id, entity_type, lower(name));
CREATE INDEX IF NOT EXISTS alma_entities_name_idx
    ON alma_entities (tenant_id, project_id, lower(name));
-- GIN cannot lead with a btree column without btree_gin; queries still filter by tenant
-- and project, and row-level security applies (as alma_store_tsv_idx).
CREATE INDEX IF NOT EXISTS alma_entities_tsv_idx ON alma_entities USING gin (tsv);

CREATE TABLE IF NOT EXISTS alma_relationships (
    tenant_id     text NOT NULL CHECK (tenant_id <> ''),
    project_id    text NOT NULL DEFAULT 'default',
    id            text NOT NULL,
    source_id     text NOT NULL,
    target_id     text NOT NULL,
    relation_type text NOT NULL CHECK (relation_type <> ''),
    properties    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
    weight        double precision NOT NULL DEFAULT 1.0,
    agent         text,
    workflow_id   text,
    run_id        text,
    node_id       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, project_id, id),
    UNIQUE (tenant_id, project_id, source_id, target_id, relation_type),
    FOREIGN KEY (tenant_id, project_id, source_id)
        REFERENCES alma_entities (tenant_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, project_id, target_id)
        REFERENCES alma_entities (tenant_id, project_id, id) ON DELETE CASCADE
);
-- Outgoing edges use the unique index above; this one serves incoming edges (and the
-- cascade from alma_entities).
CREATE INDEX IF NOT EXISTS alma_relationships_target_idx
    ON alma_relationships (tenant_id, project_id, target_id, relation_type);

SELECT alma_isolate_tenants(t) FROM unnest(ARRAY['alma_entities', 'alma_relationships']) AS t;
