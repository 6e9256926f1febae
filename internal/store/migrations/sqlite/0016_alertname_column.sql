-- Quench schema 16: an alert's alertname is written by Quench, not
-- computed by the database, as on PostgreSQL (see the PostgreSQL file),
-- so both write the same columns.
--
-- SQLite cannot turn a generated column into a plain one: the value is
-- copied into a new column, the generated one dropped (with the index
-- that reads it) and the new one takes its name. Every alert is
-- rewritten once; since this column was VIRTUAL, it was computed
-- (json_extract of the labels) on every insert for the index and on
-- every read of the insights, which a stored value saves.
ALTER TABLE alerts ADD COLUMN alertname_stored TEXT;
UPDATE alerts SET alertname_stored = alertname;
DROP INDEX alerts_first_seen;
ALTER TABLE alerts DROP COLUMN alertname;
ALTER TABLE alerts RENAME COLUMN alertname_stored TO alertname;
CREATE INDEX alerts_first_seen ON alerts (first_seen, alertname, incident_number);
