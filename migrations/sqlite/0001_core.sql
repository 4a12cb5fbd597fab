-- Real Dispatch core schema (SQLite). Keep in step with ../postgres/0001_core.sql:
-- the schema_parity test compares the two.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket_number', 0), ('invoice_number', 0);

CREATE TABLE customers (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    preferred_channel TEXT,
    created_at_ms     BIGINT NOT NULL,
    updated_at_ms     BIGINT NOT NULL
);

-- Phones (E.164) and e-mails of customers; one address belongs to one customer.
CREATE TABLE customer_contacts (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    kind          TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
    value         TEXT NOT NULL,
    position      BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id, position);

CREATE TABLE sites (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    address       TEXT NOT NULL,
    access_notes  TEXT,
    zone          TEXT,
    lat           DOUBLE PRECISION,
    lon           DOUBLE PRECISION,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX sites_customer ON sites (customer_id);

CREATE TABLE technicians (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    phone              TEXT,
    email              TEXT,
    skills_json        TEXT NOT NULL,
    zone               TEXT,
    -- WorkingHours: seven lists of [start_minute, end_minute) in the shop's time zone.
    working_hours_json TEXT NOT NULL,
    active             BIGINT NOT NULL DEFAULT 1,
    -- Bumped by every booking, so two bookings of one technician serialise.
    version            BIGINT NOT NULL DEFAULT 1,
    created_at_ms      BIGINT NOT NULL
);

CREATE TABLE technician_time_off (
    id            TEXT PRIMARY KEY,
    technician_id TEXT NOT NULL REFERENCES technicians (id),
    start_ms      BIGINT NOT NULL,
    end_ms        BIGINT NOT NULL,
    reason        TEXT
);
CREATE INDEX technician_time_off_tech ON technician_time_off (technician_id, start_ms);

-- Closeout checklist per job type (the ticket's trade; 'general' when none matches).
CREATE TABLE checklist_templates (
    job_type TEXT NOT NULL,
    item_key TEXT NOT NULL,
    label    TEXT NOT NULL,
    required BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (job_type, item_key)
);
INSERT INTO checklist_templates (job_type, item_key, label, required, position) VALUES
    ('general', 'site_left_clean', 'Work area left clean', 1, 1),
    ('general', 'customer_walkthrough', 'Walked the customer through the work', 1, 2),
    ('general', 'followup_needed', 'Follow-up visit needed', 0, 3),
    ('hvac', 'filter_checked', 'Filter checked or replaced', 1, 1),
    ('hvac', 'thermostat_tested', 'Thermostat tested through a full cycle', 1, 2),
    ('hvac', 'refrigerant_logged', 'Refrigerant added logged (EPA 608)', 0, 3),
    ('hvac', 'site_left_clean', 'Work area left clean', 1, 4),
    ('plumbing', 'leak_test', 'Leak test passed', 1, 1),
    ('plumbing', 'water_restored', 'Water supply restored and checked', 1, 2),
    ('plumbing', 'site_left_clean', 'Work area left clean', 1, 3),
    ('electrical', 'circuit_tested', 'Circuit tested under load', 1, 1),
    ('electrical', 'panel_labeled', 'Panel directory updated', 0, 2),
    ('electrical', 'site_left_clean', 'Work area left clean', 1, 3),
    ('appliance', 'appliance_tested', 'Appliance run through a full cycle', 1, 1),
    ('appliance', 'model_serial_recorded', 'Model and serial number recorded', 1, 2),
    ('appliance', 'site_left_clean', 'Work area left clean', 1, 3);

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
    requested_start_ms BIGINT,
    requested_end_ms   BIGINT,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    site_id         TEXT REFERENCES sites (id),
    assigned_tech_id TEXT REFERENCES technicians (id),
    assigned_at_ms  BIGINT,
    eta_ms          BIGINT,
    eta_note        TEXT,
    eta_set_at_ms   BIGINT,
    cancel_reason   TEXT,
    message_count   BIGINT NOT NULL DEFAULT 0,
    last_message_at_ms BIGINT,
    version         BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX tickets_state ON tickets (state, updated_at_ms);
CREATE INDEX tickets_customer ON tickets (customer_id);
CREATE INDEX tickets_tech ON tickets (assigned_tech_id, state);

CREATE TRIGGER tickets_initial_state BEFORE INSERT ON tickets
WHEN NEW.state NOT IN ('lead', 'intake')
BEGIN
    SELECT RAISE(ABORT, 'illegal initial ticket state');
END;

CREATE TRIGGER tickets_state_guard BEFORE UPDATE OF state ON tickets
WHEN NOT EXISTS (SELECT 1 FROM state_transitions WHERE from_state = OLD.state AND to_state = NEW.state)
     AND OLD.state <> NEW.state
BEGIN
    SELECT RAISE(ABORT, 'illegal state transition');
END;

-- Confirmed appointments; one active per ticket. Bookings of a technician never overlap.
CREATE TABLE appointments (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    technician_id TEXT REFERENCES technicians (id),
    start_ms      BIGINT NOT NULL,
    end_ms        BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'canceled')),
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX appointments_ticket ON appointments (ticket_id, status);
-- Bookings are searched by "ends after the start of the range": past jobs are skipped.
CREATE INDEX appointments_tech ON appointments (technician_id, status, end_ms);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    ticket_id           TEXT NOT NULL REFERENCES tickets (id),
    direction           TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    channel             TEXT NOT NULL,
    sender              TEXT,
    body                TEXT NOT NULL,
    raw_json            TEXT,
    provider_message_id TEXT,
    author              TEXT NOT NULL,
    created_at_ms       BIGINT NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, created_at_ms);

CREATE TABLE checklist_items (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    item_key   TEXT NOT NULL,
    label      TEXT NOT NULL,
    required   BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    done_at_ms BIGINT,
    done_by    TEXT,
    PRIMARY KEY (ticket_id, item_key)
);

CREATE TABLE notes (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    kind          TEXT NOT NULL CHECK (kind IN ('note', 'work_summary')),
    body          TEXT NOT NULL,
    author        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX notes_ticket ON notes (ticket_id, created_at_ms);

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    kind          TEXT NOT NULL CHECK (kind IN ('before', 'after', 'signature', 'other')),
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    filename      TEXT,
    blob_key      TEXT NOT NULL UNIQUE,
    -- Derived copies: a small JPEG thumbnail, and the customer-visible copy (re-encoded,
    -- orientation applied, no metadata such as GPS location). NULL when none could be made.
    thumb_key     TEXT,
    view_key      TEXT,
    uploaded_by   TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, created_at_ms);

CREATE TABLE labor_lines (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    technician_id TEXT,
    description   TEXT NOT NULL,
    minutes       BIGINT NOT NULL CHECK (minutes > 0),
    rate_cents    BIGINT NOT NULL CHECK (rate_cents >= 0),
    amount_cents  BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX labor_lines_ticket ON labor_lines (ticket_id, created_at_ms);

CREATE TABLE part_lines (
    id               TEXT PRIMARY KEY,
    ticket_id        TEXT NOT NULL REFERENCES tickets (id),
    sku              TEXT,
    description      TEXT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    amount_cents     BIGINT NOT NULL,
    created_at_ms    BIGINT NOT NULL
);
CREATE INDEX part_lines_ticket ON part_lines (ticket_id, created_at_ms);

CREATE TABLE invoice_drafts (
    id             TEXT PRIMARY KEY,
    ticket_id      TEXT NOT NULL UNIQUE REFERENCES tickets (id),
    number         BIGINT NOT NULL UNIQUE,
    lines_json     TEXT NOT NULL,
    subtotal_cents BIGINT NOT NULL,
    tax_rate_bp    BIGINT NOT NULL,
    tax_cents      BIGINT NOT NULL,
    total_cents    BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE closeout_packets (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets (id),
    blob_key      TEXT NOT NULL UNIQUE,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    manifest_json TEXT NOT NULL,
    current       BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX closeout_packets_ticket ON closeout_packets (ticket_id, current);

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    ticket_id      TEXT NOT NULL UNIQUE REFERENCES tickets (id),
    kind           TEXT NOT NULL CHECK (kind IN ('paid', 'ar')),
    amount_cents   BIGINT NOT NULL,
    due_ms         BIGINT,
    recorded_by    TEXT NOT NULL,
    recorded_at_ms BIGINT NOT NULL
);

-- Append-only, hash-chained audit trail: per ticket (ticket_prev_hash) and global (prev_hash).
-- `seq` is the rowid here (one b-tree fewer to write per event); `id` stays unique.
CREATE TABLE audit_events (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
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
    detail_json      TEXT,
    attachments_json TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    ticket_prev_hash TEXT,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_events_ticket ON audit_events (ticket_id, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- The head of the global chain; updating it serialises appends.
CREATE TABLE audit_head (
    id        BIGINT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, head_hash) VALUES (1, 0, 'genesis');

-- The head follows every append inside the database, one statement fewer per action.
CREATE TRIGGER audit_events_head AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET head_hash = NEW.hash WHERE id = 1;
END;

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    technician_id  TEXT REFERENCES technicians (id),
    customer_id    TEXT REFERENCES customers (id),
    disabled_at_ms BIGINT,
    created_at_ms  BIGINT NOT NULL,
    -- Raised on password change, reset and disable: sessions carrying an older epoch are dead.
    session_epoch  BIGINT NOT NULL DEFAULT 0,
    last_login_at_ms BIGINT
);

-- Failed logins per (e-mail as typed, client address): a lockout earned from one address does
-- not lock the account's owner out from another, and unknown e-mails are throttled the same
-- way as known ones.
CREATE TABLE login_throttle (
    email           TEXT NOT NULL,
    client          TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    locked_until_ms BIGINT,
    updated_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (email, client)
);

-- Browser sessions (tower-sessions records). `user_id` lets every session of a user be revoked
-- at once; `data_json` is the session's key-value map.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT,
    data_json     TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at_ms);

-- Password-less customer access to one ticket: the link carries a random secret, only its hash
-- is stored; links expire and can be revoked.
CREATE TABLE portal_links (
    id              TEXT PRIMARY KEY,
    ticket_id       TEXT NOT NULL REFERENCES tickets (id),
    secret_hash     TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    revoked_at_ms   BIGINT,
    last_used_at_ms BIGINT
);
CREATE INDEX portal_links_ticket ON portal_links (ticket_id);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    last_used_at_ms BIGINT,
    revoked_at_ms   BIGINT
);

-- Idempotency of tool calls: the first success per (token, tool, key) is stored with the
-- action's own transaction, so a retry gets the same answer and nothing runs twice.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    tool          TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    response_json TEXT,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, tool, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at_ms);

-- Every inbound message as received (raw) and as understood (normalised), deduplicated by
-- the provider's id, with what was done with it.
CREATE TABLE inbound_messages (
    id                  TEXT PRIMARY KEY,
    channel             TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    from_addr           TEXT NOT NULL,
    to_addr             TEXT,
    normalized_from     TEXT,
    body                TEXT NOT NULL,
    raw_json            TEXT NOT NULL,
    received_at_ms      BIGINT NOT NULL,
    disposition         TEXT NOT NULL CHECK (disposition IN ('attached', 'created', 'quarantined')),
    reason              TEXT,
    ticket_id           TEXT,
    message_id          TEXT,
    created_at_ms       BIGINT NOT NULL,
    UNIQUE (channel, provider_message_id)
);
CREATE INDEX inbound_messages_from ON inbound_messages (normalized_from, created_at_ms);

-- Files uploaded ahead of the action that uses them (large photos). An upload is used once.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    filename      TEXT,
    blob_key      TEXT NOT NULL UNIQUE,
    thumb_key     TEXT,
    view_key      TEXT,
    -- The client's idempotency key for this file: a retried upload returns the first one.
    client_key    TEXT,
    created_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    UNIQUE (owner_id, client_key)
);
