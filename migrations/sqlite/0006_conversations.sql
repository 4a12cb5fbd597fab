-- Which ticket a channel conversation (an OpenClaw session key) is about: written when an
-- inbound message of that conversation is attached to a ticket or opens one, read before each
-- agent turn. Kept here, so a restart of either side keeps it.
CREATE TABLE conversation_bindings (
    conversation  TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL REFERENCES tickets(id),
    channel       TEXT NOT NULL,
    bound_at_ms   INTEGER NOT NULL
);
CREATE INDEX conversation_bindings_ticket ON conversation_bindings (ticket_id);
