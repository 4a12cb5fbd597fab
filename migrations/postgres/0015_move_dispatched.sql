-- ticket.book with reschedule: a dispatched job moved to another time or technician (the
-- dispatch calendar). The list is the moves of the action table (crates/domain/src/action.rs);
-- a test keeps them equal. The state guard lets a row keep its state anyway; this row says so.
INSERT INTO state_transitions (from_state, to_state) VALUES ('dispatched', 'dispatched');
