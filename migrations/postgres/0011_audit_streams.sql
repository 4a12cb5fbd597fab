-- The audit trail without a global hot row. Until now every append updated the one
-- `audit_head` row and held it until commit, so all writes queued behind each other whatever
-- ticket they touched. From here on:
--   * an event's global position (`seq`) comes from a sequence, which never blocks (a rolled
--     back action leaves a gap, which is not a finding);
--   * each ticket's events, and the shop's events that name no ticket, form a chain of their own
--     (`stream`: the ticket id, or 'shop'); an append holds only its stream's head row, so
--     actions on different tickets never wait on each other;
--   * the global order is sealed after the fact: each signed checkpoint folds every event up to
--     its seq into one hash (see `audit verify`).
-- Events written before this migration keep their global chain (`stream` NULL) and are verified
-- as before; the new streams start from their last hashes.
ALTER TABLE audit_events ADD COLUMN stream TEXT;

CREATE SEQUENCE audit_seq;
SELECT setval('audit_seq', GREATEST((SELECT COALESCE(MAX(seq), 0) FROM audit_events), 1),
              EXISTS (SELECT 1 FROM audit_events));

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

DROP TRIGGER audit_events_head ON audit_events;
DROP FUNCTION audit_head_follow();
DROP TABLE audit_head;

-- A stream's head follows its appends inside the database, one statement fewer per action.
CREATE FUNCTION audit_stream_follow() RETURNS trigger AS $$
BEGIN
    UPDATE audit_streams SET head_hash = NEW.hash WHERE stream = NEW.stream;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_stream AFTER INSERT ON audit_events
    FOR EACH ROW WHEN (NEW.stream IS NOT NULL) EXECUTE FUNCTION audit_stream_follow();
