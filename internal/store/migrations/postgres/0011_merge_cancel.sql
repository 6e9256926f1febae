-- Quench schema 11: incidents that were no disruption of their own end
-- beside closed, not in a phase: merged into another (a duplicate) or
-- cancelled (a false alarm). phase keeps the phase they were left in;
-- end_state says they ended, and lists, figures and the board leave them
-- out by it.
ALTER TABLE incidents ADD COLUMN end_state TEXT CHECK (end_state IN ('cancelled', 'merged'));
ALTER TABLE incidents ADD COLUMN ended_at BIGINT;
ALTER TABLE incidents ADD COLUMN end_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN merged_into BIGINT REFERENCES incidents (number);
CREATE INDEX incidents_ended ON incidents (ended_at) WHERE end_state IS NOT NULL;
