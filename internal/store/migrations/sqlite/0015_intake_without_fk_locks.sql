-- Quench schema 15: on PostgreSQL, alerts check their integration and
-- incident once per statement instead of by foreign keys, and intake adds
-- a storm's alert counts to slot rows (see the PostgreSQL file). SQLite's
-- one writer needs neither: it keeps its foreign keys and writes the
-- counts on the incident's row; the table is here so that both schemas
-- have the same tables, and stays empty.
CREATE TABLE incident_alert_counts (
    incident_number INTEGER NOT NULL,
    slot            INTEGER NOT NULL,
    attached        INTEGER NOT NULL DEFAULT 0,
    firing          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_number, slot)
);
