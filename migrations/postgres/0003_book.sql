-- ticket.book: a slot and its technician booked in one step, intake -> dispatched. The list
-- is the moves of the action table (crates/domain/src/action.rs); a test keeps them equal.
INSERT INTO state_transitions (from_state, to_state) VALUES ('intake', 'dispatched');
