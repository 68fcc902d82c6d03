-- The workflow layer's checkpoint manager: branches and database-assigned sequence
-- numbers on alma_checkpoints, and one counter row per (tenant, run, branch). A writer
-- locks its branch's counter row for the length of its transaction, so sequence numbers
-- are unique and gap-free per branch however many processes write at once.

ALTER TABLE alma_checkpoints ADD COLUMN IF NOT EXISTS branch_id text;
ALTER TABLE alma_checkpoints ADD COLUMN IF NOT EXISTS seq bigint;

-- A safety net under the counter: one checkpoint per (run, branch, seq).
CREATE UNIQUE INDEX IF NOT EXISTS alma_checkpoints_seq_idx
    ON alma_checkpoints (tenant_id, thread_id, checkpoint_ns, (coalesce(branch_id, '')), seq)
    WHERE seq IS NOT NULL;

CREATE TABLE IF NOT EXISTS alma_workflow_branches (
    tenant_id          text NOT NULL CHECK (tenant_id <> ''),
    thread_id          text NOT NULL,               -- the run id
    branch_id          text NOT NULL DEFAULT '',    -- '' is the run's main branch
    last_seq           bigint NOT NULL DEFAULT 0,
    last_checkpoint_id text,
    channel_hashes     jsonb NOT NULL DEFAULT '{}', -- channel -> hash of its last value
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, thread_id, branch_id)
);

SELECT alma_isolate_tenants('alma_workflow_branches');
