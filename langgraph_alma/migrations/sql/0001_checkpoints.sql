-- Checkpoint tables of AlmaSaver, the application role, and row-level security.
-- Every table leads with tenant_id; policies read the tenant from the transaction-local
-- setting alma.tenant_id, so a connection acting for one tenant sees no other.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        CREATE ROLE alma_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'langgraph-alma: no privilege to create role alma_app; grant it yourself';
END
$$;

CREATE OR REPLACE FUNCTION alma_current_tenant() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('alma.tenant_id', true), '') $$;

CREATE TABLE IF NOT EXISTS alma_checkpoints (
    tenant_id            text NOT NULL CHECK (tenant_id <> ''),
    thread_id            text NOT NULL,
    checkpoint_ns        text NOT NULL DEFAULT '',
    checkpoint_id        text NOT NULL,
    parent_checkpoint_id text,
    run_id               text,
    project_id           text NOT NULL DEFAULT 'default',
    agent                text,
    workflow_id          text,
    node_id              text,
    step                 integer,
    source               text,
    checkpoint           jsonb NOT NULL,              -- the checkpoint without channel_values
    inline_values        jsonb NOT NULL DEFAULT '{}', -- None/bool/int/float/str channel values
    blob_channels        text[] NOT NULL DEFAULT '{}',-- channels whose value is in alma_checkpoint_blobs
    metadata             jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id)
);
CREATE INDEX IF NOT EXISTS alma_checkpoints_run_idx
    ON alma_checkpoints (tenant_id, run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS alma_checkpoints_scope_idx
    ON alma_checkpoints (tenant_id, workflow_id, agent);

-- One row per (channel, version). A row with base_version is a delta: the first
-- keep_len elements of the base version's list followed by the elements in blob.
CREATE TABLE IF NOT EXISTS alma_checkpoint_blobs (
    tenant_id     text NOT NULL CHECK (tenant_id <> ''),
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL DEFAULT '',
    channel       text NOT NULL,
    version       text NOT NULL,
    type          text NOT NULL,
    blob          bytea,
    base_version  text,
    keep_len      integer,
    depth         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, channel, version),
    FOREIGN KEY (tenant_id, thread_id, checkpoint_ns, channel, base_version)
        REFERENCES alma_checkpoint_blobs (tenant_id, thread_id, checkpoint_ns, channel, version),
    CHECK ((base_version IS NULL) = (keep_len IS NULL))
);
CREATE INDEX IF NOT EXISTS alma_checkpoint_blobs_base_idx
    ON alma_checkpoint_blobs (tenant_id, thread_id, checkpoint_ns, channel, base_version)
    WHERE base_version IS NOT NULL;

CREATE TABLE IF NOT EXISTS alma_checkpoint_writes (
    tenant_id     text NOT NULL CHECK (tenant_id <> ''),
    thread_id     text NOT NULL,
    checkpoint_ns text NOT NULL DEFAULT '',
    checkpoint_id text NOT NULL,
    task_id       text NOT NULL,
    idx           integer NOT NULL,
    task_path     text NOT NULL DEFAULT '',
    channel       text NOT NULL,
    type          text,
    blob          bytea NOT NULL,
    node_id       text,   -- the node that wrote it, when its task path names one
    branch_id     text,   -- the task path of a parallel branch (Send / fan-out)
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);

-- Tenant isolation of one table, for this and every later migration: row-level security
-- enabled and forced (the owner too), the policy on the transaction's tenant, and the
-- application role's grants. The table name is an identifier, quoted with %I.
CREATE OR REPLACE FUNCTION alma_isolate_tenants(t text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %I USING (tenant_id = alma_current_tenant()) '
        'WITH CHECK (tenant_id = alma_current_tenant())', t);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alma_app') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO alma_app', t);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION alma_isolate_tenants(text) FROM PUBLIC;

SELECT alma_isolate_tenants(t)
FROM unnest(ARRAY['alma_checkpoints', 'alma_checkpoint_blobs', 'alma_checkpoint_writes']) AS t;
