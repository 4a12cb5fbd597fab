-- The audit trail without a global hot row (see the PostgreSQL migration of the same number).
-- SQLite has one writer at a time, so an event's `seq` is the highest so far plus one; each
-- ticket's events, and the shop's events that name no ticket, form a chain of their own
-- (`stream`), and signed checkpoints fold the global order into one hash. Events written
-- before this migration keep their global chain (`stream` NULL).
ALTER TABLE audit_events ADD COLUMN stream TEXT;

CREATE TABLE audit_streams (
    stream    TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_streams (stream, seq, head_hash)
SELECT e.ticket_id, e.seq, e.hash FROM audit_events e
WHERE e.ticket_id IS NOT NULL AND e.seq = (SELECT MAX(x.seq) FROM audit_events x WHERE x.ticket_id = e.ticket_id);
INSERT INTO audit_streams (stream, seq, head_hash)
SELECT 'shop', seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1;

DROP TRIGGER audit_events_head;
DROP TABLE audit_head;

CREATE TRIGGER audit_events_stream AFTER INSERT ON audit_events WHEN NEW.stream IS NOT NULL
BEGIN
    UPDATE audit_streams SET head_hash = NEW.hash WHERE stream = NEW.stream;
END;
