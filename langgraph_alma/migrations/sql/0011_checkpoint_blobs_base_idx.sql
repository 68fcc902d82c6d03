-- The index behind the delta foreign key (alma_checkpoint_blobs.base_version -> a blob
-- row of the same thread): deleting a blob row checks no delta still uses it, by
-- base_version. Versions carry 41 random bits, so base_version alone finds the few rows
-- to check (the check's other columns filter them); the index on it alone is about half
-- the size of the one on (tenant_id, thread_id, checkpoint_ns, channel, base_version),
-- and it holds an entry for every delta row.
DROP INDEX IF EXISTS alma_checkpoint_blobs_base_idx;
CREATE INDEX IF NOT EXISTS alma_checkpoint_blobs_base_idx
    ON alma_checkpoint_blobs (base_version)
    WHERE base_version IS NOT NULL;
