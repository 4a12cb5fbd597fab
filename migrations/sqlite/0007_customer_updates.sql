-- Customer updates (the outbox): written in the transaction of the action whose committed change
-- calls for them, delivered by the worker through OpenClaw, each at most once: retried with
-- backoff, given up after five attempts ('dead', shown to the office), or skipped with why.
CREATE TABLE customer_updates (
    id                  TEXT PRIMARY KEY,
    ticket_id           TEXT NOT NULL REFERENCES tickets(id),
    kind                TEXT NOT NULL,
    channel             TEXT,
    to_addr             TEXT,
    body                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead', 'skipped')),
    reason              TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms  INTEGER NOT NULL,
    claimed_until_ms    INTEGER,
    last_error          TEXT,
    case_version        INTEGER NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    sent_at_ms          INTEGER
);
CREATE INDEX customer_updates_due ON customer_updates (status, next_attempt_at_ms);
CREATE INDEX customer_updates_ticket ON customer_updates (ticket_id, kind, created_at_ms);
