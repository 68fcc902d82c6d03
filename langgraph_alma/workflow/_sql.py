"""SQL of the workflow checkpoint manager. Every value is a bound parameter; each
statement runs after `set_tenant` in the same transaction, so row-level security applies.

A writer first locks its branch's counter row (`LOCK_BRANCH`, an upsert that creates or
locks it) and holds it until commit: writers of one branch queue there, writers of other
branches do not wait, and a transaction that fails gives its number back by rolling back.
"""

# Create or lock the (run, branch) counter row; return it with the channel versions of
# the branch's last checkpoint (in its jsonb, or packed).
LOCK_BRANCH = """
WITH b AS (
    INSERT INTO alma_workflow_branches (tenant_id, thread_id, branch_id)
    VALUES (%(tenant)s, %(thread)s, %(branch)s)
    ON CONFLICT (tenant_id, thread_id, branch_id)
        DO UPDATE SET last_seq = alma_workflow_branches.last_seq
    RETURNING last_seq, last_checkpoint_id, channel_hashes
)
SELECT b.last_seq, b.last_checkpoint_id, b.channel_hashes,
       c.checkpoint -> 'channel_versions' AS versions,  -- rows before migration 0012
       c.packed, c.blob_channels, c.blob_versions  -- read by `stored_checkpoint`
FROM b
LEFT JOIN alma_checkpoints c
  ON c.tenant_id = %(tenant)s AND c.thread_id = %(thread)s AND c.checkpoint_ns = ''
 AND c.checkpoint_id = b.last_checkpoint_id"""

# Sent in the same pipeline as the saver's PUT: advance the counter (only from the value
# read under the lock) and stamp the new checkpoint with its branch, node and number.
MARK = """
WITH b AS (
    UPDATE alma_workflow_branches
    SET last_seq = %(seq)s::bigint, last_checkpoint_id = %(id)s,
        channel_hashes = %(hashes)s, updated_at = now()
    WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND branch_id = %(branch)s
      AND last_seq = %(seq)s::bigint - 1
    RETURNING last_seq
)
UPDATE alma_checkpoints c
SET seq = b.last_seq, branch_id = %(branch_col)s, node_id = %(node)s
FROM b
WHERE c.tenant_id = %(tenant)s AND c.thread_id = %(thread)s AND c.checkpoint_ns = ''
  AND c.checkpoint_id = %(id)s
RETURNING c.seq, c.created_at"""

# The newest manager checkpoint of one branch ('' is the main branch).
# The branch's newest manager checkpoint; on the main branch of a run only a graph wrote,
# the graph's newest checkpoint (numbered by its LangGraph step).
LATEST = """
SELECT checkpoint_id, coalesce(seq, step, 0), node_id, created_at
FROM alma_checkpoints
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND checkpoint_ns = ''
  AND coalesce(branch_id, '') = %(branch)s AND (seq IS NOT NULL OR %(branch)s = '')
ORDER BY seq IS NULL, seq DESC, checkpoint_id DESC
LIMIT 1"""

# A run's newest manager checkpoint on any branch (when its main branch has none).
LATEST_ANY_BRANCH = """
SELECT checkpoint_id, seq, node_id, created_at, branch_id
FROM alma_checkpoints
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND checkpoint_ns = ''
  AND seq IS NOT NULL
ORDER BY created_at DESC, checkpoint_id DESC
LIMIT 1"""

# The workflow a run belongs to, as its checkpoints record it.
WORKFLOW_OF_RUN = """
SELECT workflow_id FROM alma_checkpoints
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND workflow_id IS NOT NULL
LIMIT 1"""

# Cleanup holds every counter row of the run, so no writer of the run is between its
# lock and its commit while checkpoints and blobs go.
LOCK_RUN = """
SELECT branch_id FROM alma_workflow_branches
WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s
ORDER BY branch_id
FOR UPDATE"""

# All but the newest `keep` manager checkpoints of each branch, and their writes.
# Checkpoints LangGraph wrote itself (no seq) are the saver's to prune.
DELETE_OLD = """
WITH ranked AS (
    SELECT checkpoint_id,
           row_number() OVER (PARTITION BY coalesce(branch_id, '') ORDER BY seq DESC) AS rn
    FROM alma_checkpoints
    WHERE tenant_id = %(tenant)s AND thread_id = %(thread)s AND checkpoint_ns = ''
      AND seq IS NOT NULL
),
gone AS (
    DELETE FROM alma_checkpoints c
    USING ranked r
    WHERE c.tenant_id = %(tenant)s AND c.thread_id = %(thread)s AND c.checkpoint_ns = ''
      AND c.checkpoint_id = r.checkpoint_id AND r.rn > %(keep)s
    RETURNING c.checkpoint_id
),
writes AS (
    DELETE FROM alma_checkpoint_writes w
    USING gone
    WHERE w.tenant_id = %(tenant)s AND w.thread_id = %(thread)s AND w.checkpoint_ns = ''
      AND w.checkpoint_id = gone.checkpoint_id
)
SELECT count(*) FROM gone"""
