-- Quench schema 9 (SQLite): inbox triage (acknowledge, dismiss, snooze).

-- Someone is on it: who acknowledged an alert and when. Cleared when the
-- alert fires again after resolving.
ALTER TABLE alerts ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acked_at BIGINT;
-- Not an incident: a dismissed alert stays out of the inbox's default
-- view until it resolves and fires again (which clears these).
ALTER TABLE alerts ADD COLUMN dismissed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN dismissed_at BIGINT;
ALTER TABLE alerts ADD COLUMN dismiss_reason TEXT NOT NULL DEFAULT '';

-- Keep matching new alerts quiet until ends_at: they go to the inbox and
-- open or join no incident, whatever the rules say. Intake reads the
-- unexpired ones once per delivery.
CREATE TABLE snoozes (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    ends_at    BIGINT  NOT NULL
);
CREATE INDEX snoozes_ends ON snoozes (ends_at);
