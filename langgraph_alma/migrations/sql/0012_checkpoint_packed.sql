-- A checkpoint row stores the checkpoint (its versions, versions_seen, ts...) as `packed`
-- bytes: zstd-compressed JSON with a dictionary of its framing (`checkpoint/_compress.
-- pack_checkpoint`), some 40% of the jsonb it replaces. What SQL reads of it stays in
-- columns: `blob_versions`, the versions of the channels in `blob_channels` (same order,
-- comma-separated, '' for a channel without one: a text is some 30 bytes less than an
-- array of one).
-- New rows leave `checkpoint` NULL (but those older than checkpoint format 4, whose sends
-- SQL reads); rows stored before keep their jsonb, NULL `packed` and `blob_versions`, and
-- read the same. Adding nullable columns and dropping NOT NULL rewrite no row.
ALTER TABLE alma_checkpoints ADD COLUMN IF NOT EXISTS packed bytea;
ALTER TABLE alma_checkpoints ADD COLUMN IF NOT EXISTS blob_versions text;
ALTER TABLE alma_checkpoints ALTER COLUMN checkpoint DROP NOT NULL;
ALTER TABLE alma_checkpoints DROP CONSTRAINT IF EXISTS alma_checkpoints_stored_check;
ALTER TABLE alma_checkpoints ADD CONSTRAINT alma_checkpoints_stored_check
    CHECK (checkpoint IS NOT NULL OR packed IS NOT NULL) NOT VALID;
