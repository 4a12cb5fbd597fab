-- A mark the office puts on a ticket ('vip', 'complaint'): agents' steps on it wait for a person.
ALTER TABLE tickets ADD COLUMN flag TEXT;

-- Agent calls the shop's rules hold for a person. The input is kept as the agent sent it, with
-- the agent (as a JSON actor) and its Idempotency-Key: approving runs the call once, under that
-- key, so a retry of the agent's call and a second approval both get the one answer.
CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    ticket_id        TEXT NOT NULL REFERENCES tickets(id),
    action           TEXT NOT NULL,
    input_json       TEXT NOT NULL,
    rule             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    actor_json       TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    requested_role   TEXT NOT NULL,
    request_key      TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    requested_at_ms  INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),
    decided_by       TEXT,
    decided_at_ms    INTEGER,
    decision_note    TEXT,
    result_event_id  TEXT
);
CREATE UNIQUE INDEX approvals_request ON approvals (requested_by, action, request_key);
CREATE INDEX approvals_status ON approvals (status, requested_at_ms);
CREATE INDEX approvals_ticket ON approvals (ticket_id, requested_at_ms);

-- The shop's settings, one JSON document per key ('approval_gate', ...); absent: the defaults.
CREATE TABLE shop_settings (
    key            TEXT PRIMARY KEY,
    value_json     TEXT NOT NULL,
    updated_by     TEXT NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
