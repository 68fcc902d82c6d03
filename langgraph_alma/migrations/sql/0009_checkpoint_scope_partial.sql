-- AlmaSaver's scope index holds only checkpoints that have a scope (an agent or a
-- workflow_id). Most graphs run without either: their checkpoints then add no entry to
-- it (less to write on each put, less to store); a query naming a workflow or an agent
-- (`workflow_id = ...`, `agent = ...`) implies the index's predicate and still uses it.
DROP INDEX IF EXISTS alma_checkpoints_scope_idx;
CREATE INDEX IF NOT EXISTS alma_checkpoints_scope_idx
    ON alma_checkpoints (tenant_id, workflow_id, agent)
    WHERE workflow_id IS NOT NULL OR agent IS NOT NULL;
