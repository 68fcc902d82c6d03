-- Placeholder (branch saver13): keeps migration numbers contiguous while 0008 belongs to
-- another branch. The lead drops this file at merge.
SELECT 1;
