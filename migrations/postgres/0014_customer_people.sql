-- The people a customer's calls come from besides the customer on file: a second person in
-- the household, a tenant, a site manager. A person's phone may be the customer's own line:
-- phones and e-mails in customer_contacts still belong to one customer each (inbound messages
-- are routed by them), so these are names with how to reach them, not routing keys.
CREATE TABLE customer_people (
    id            TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    name          TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX customer_people_customer ON customer_people (customer_id, created_at_ms);

-- Who called about this ticket, when it is not the customer on file.
ALTER TABLE tickets ADD COLUMN contact_person_id TEXT REFERENCES customer_people (id);
