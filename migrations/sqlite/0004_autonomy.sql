-- Pauses of the agents, by scope: 'all', 'role:<agent role>' or 'ticket:<ticket id>'. While a
-- pause covers an agent's call, the call changes nothing (409 AUTONOMY_PAUSED).
CREATE TABLE autonomy_pauses (
    scope        TEXT PRIMARY KEY,
    reason       TEXT,
    paused_by    TEXT NOT NULL,
    paused_at_ms INTEGER NOT NULL
);
