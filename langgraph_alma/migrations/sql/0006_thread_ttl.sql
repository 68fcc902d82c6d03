-- Thread retention (AlmaSaver(ttl=...)): one row per thread a saver with a TTL wrote,
-- touched by each of its checkpoint writes. Expired threads are found by a range scan of
-- `expires_at`, never by scanning checkpoints. NULL expires_at: never expires (exempt, or
-- swept by keep_latest until the next write).
CREATE TABLE IF NOT EXISTS alma_threads (
    tenant_id     text NOT NULL CHECK (tenant_id <> ''),
    thread_id     text NOT NULL,
    last_write_at timestamptz NOT NULL DEFAULT now(),
    ttl_minutes   float8 CHECK (ttl_minutes IS NULL OR ttl_minutes > 0),
    pinned        boolean NOT NULL DEFAULT false,  -- TTL set for this thread, not the default
    expires_at    timestamptz,
    swept_at      timestamptz,
    PRIMARY KEY (tenant_id, thread_id)
);
-- A tenant's sweep, and a privileged sweep of every tenant.
CREATE INDEX IF NOT EXISTS alma_threads_tenant_expiry_idx
    ON alma_threads (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS alma_threads_expiry_idx
    ON alma_threads (expires_at) WHERE expires_at IS NOT NULL;

SELECT alma_isolate_tenants('alma_threads');
