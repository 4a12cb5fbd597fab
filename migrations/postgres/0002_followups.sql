-- Follow-up and escalation timers. The worker plans them from the tickets, claims the due
-- ones (a lease, so a crashed worker's claim expires) and fires each exactly once: the
-- 'fired' mark and its audit event commit together.
CREATE TABLE followups (
    id               TEXT PRIMARY KEY,
    ticket_id        TEXT NOT NULL REFERENCES tickets (id),
    kind             TEXT NOT NULL CHECK (kind IN ('lead_unanswered', 'eta_missing', 'closeout_incomplete')),
    due_at_ms        BIGINT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'fired', 'dropped', 'failed')),
    claimed_by       TEXT,
    claimed_until_ms BIGINT,
    next_attempt_ms  BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    fired_at_ms      BIGINT,
    created_at_ms    BIGINT NOT NULL,
    UNIQUE (ticket_id, kind, due_at_ms)
);
CREATE INDEX followups_due ON followups (state, due_at_ms);
