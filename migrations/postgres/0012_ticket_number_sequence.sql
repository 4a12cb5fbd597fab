-- Ticket numbers from a sequence: a counter row updated by every new ticket and held until its
-- commit made new tickets wait on each other. A ticket whose creation rolls back after taking
-- its number leaves a gap, which is harmless for ticket numbers. Invoice numbers keep their
-- counter row: they stay gap-free (tax rules in many places require it), so invoice drafts are
-- numbered one at a time.
CREATE SEQUENCE ticket_number_seq;
SELECT setval('ticket_number_seq', GREATEST((SELECT value FROM counters WHERE name = 'ticket_number'), 1),
              (SELECT value FROM counters WHERE name = 'ticket_number') > 0);
DELETE FROM counters WHERE name = 'ticket_number';
