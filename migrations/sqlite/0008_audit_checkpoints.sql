-- Signed checkpoints of the audit chain: the head (seq, hash) at a moment, signed with an
-- Ed25519 key kept outside the database. Whoever can write to the database can re-hash the
-- chain, but cannot sign: `audit verify` checks each checkpoint against the keys it trusts and
-- the event at its seq. A copy of each checkpoint also goes to the blob store.
CREATE TABLE audit_checkpoints (
    seq         INTEGER PRIMARY KEY,
    head_hash   TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
