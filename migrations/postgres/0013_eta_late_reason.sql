-- Why the technician arrives after the booked window: given with a late ETA (dispatch.set_eta),
-- told to the customer, cleared by the next ETA inside the window.
ALTER TABLE tickets ADD COLUMN eta_late_reason TEXT;
