-- Real Dispatch core schema (PostgreSQL). Keep in step with ../sqlite/0001_core.sql:
-- the schema_parity test compares the two.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket_number', 0);

CREATE TABLE customers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    phone             TEXT,
    email             TEXT,
    preferred_channel TEXT,
    created_at_ms     BIGINT NOT NULL,
    updated_at_ms     BIGINT NOT NULL
);
CREATE INDEX customers_phone ON customers (phone);
CREATE INDEX customers_email ON customers (email);

CREATE TABLE sites (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    address       TEXT NOT NULL,
    access_notes  TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX sites_customer ON sites (customer_id);

CREATE TABLE technicians (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    phone         TEXT,
    skills_json   TEXT NOT NULL,
    zone          TEXT,
    active        BIGINT NOT NULL DEFAULT 1,
    created_at_ms BIGINT NOT NULL
);

-- The legal lifecycle moves; crates/domain/src/state.rs holds the same list and a test
-- proves they agree. The trigger below refuses any other move, whoever writes.
CREATE TABLE state_transitions (
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO state_transitions (from_state, to_state) VALUES
    ('lead', 'intake'),
    ('intake', 'scheduled'),
    ('scheduled', 'scheduled'),
    ('scheduled', 'dispatched'),
    ('dispatched', 'onsite'),
    ('onsite', 'work_performed'),
    ('work_performed', 'closeout_ready'),
    ('closeout_ready', 'invoice_ready'),
    ('invoice_ready', 'paid_or_ar'),
    ('lead', 'canceled'),
    ('intake', 'canceled'),
    ('scheduled', 'canceled'),
    ('dispatched', 'canceled');

CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    number          BIGINT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('lead', 'intake', 'scheduled', 'dispatched', 'onsite',
                        'work_performed', 'closeout_ready', 'invoice_ready', 'paid_or_ar', 'canceled')),
    priority        TEXT NOT NULL CHECK (priority IN ('standard', 'urgent', 'emergency')),
    problem_summary TEXT,
    trade           TEXT,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    site_id         TEXT REFERENCES sites (id),
    version         BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX tickets_state ON tickets (state, updated_at_ms);
CREATE INDEX tickets_customer ON tickets (customer_id);

CREATE FUNCTION tickets_state_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state NOT IN ('lead', 'intake') THEN
            RAISE EXCEPTION 'illegal initial ticket state';
        END IF;
    ELSIF OLD.state <> NEW.state AND NOT EXISTS (
        SELECT 1 FROM state_transitions WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'illegal state transition';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_initial_state BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_state_guard();
CREATE TRIGGER tickets_state_guard BEFORE UPDATE OF state ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_state_guard();

-- Append-only, hash-chained audit trail: per ticket (ticket_prev_hash) and global (prev_hash).
CREATE TABLE audit_events (
    id               TEXT PRIMARY KEY,
    seq              BIGINT NOT NULL UNIQUE,
    ticket_id        TEXT,
    at_ms            BIGINT NOT NULL,
    actor_kind       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    actor_role       TEXT NOT NULL,
    source_channel   TEXT NOT NULL,
    correlation_id   TEXT,
    request_id       TEXT,
    action           TEXT NOT NULL,
    before_json      TEXT,
    after_json       TEXT,
    attachments_json TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    ticket_prev_hash TEXT,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_events_ticket ON audit_events (ticket_id, seq);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- The head of the global chain; updating it serialises appends.
CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, head_hash) VALUES (1, 0, 'genesis');

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    technician_id  TEXT REFERENCES technicians (id),
    customer_id    TEXT REFERENCES customers (id),
    disabled_at_ms BIGINT,
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT,
    revoked_at_ms   BIGINT
);
