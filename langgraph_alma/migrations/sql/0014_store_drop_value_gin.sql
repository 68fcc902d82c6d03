-- AlmaStore's GIN index over item values (`jsonb_path_ops`, from 0002) served no
-- statement: search filters compile to path lookups and comparisons (`store/_filters.py`:
-- `value #> path = ...`), never to containment (`@>`), the only operator that index
-- answers. Every put still paid for it: a GIN insert (through the pending list, merged
-- by whichever put filled it), 5% of a put's WAL and 12% of the table's size with its
-- indexes (2,000 small items). Dropped.
DROP INDEX IF EXISTS alma_store_value_idx;
