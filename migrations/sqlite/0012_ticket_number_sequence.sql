-- PostgreSQL takes ticket numbers from a sequence from this release on (see its migration of
-- the same number). SQLite has one writer at a time, so its counter row costs no waiting and
-- stays; this migration keeps the two schemas' versions in step.
SELECT 1;
