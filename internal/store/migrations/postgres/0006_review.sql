-- Quench schema 6 (PostgreSQL): the weekly review, its schedule, and the
-- indexes the review, the insights and the incident log's period need.

-- A recorded review: when it was held, the agenda period it went through,
-- who was there and the minutes (Markdown).
CREATE TABLE reviews (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    held_at     BIGINT  NOT NULL,
    since       BIGINT  NOT NULL,
    until       BIGINT  NOT NULL,
    attendees   TEXT    NOT NULL DEFAULT '[]',
    minutes     TEXT    NOT NULL DEFAULT '',
    recorded_by TEXT    NOT NULL
);
CREATE INDEX reviews_held ON reviews (held_at, id);

-- What the review decided about one incident; each also appends a
-- "reviewed" event to the incident's timeline.
CREATE TABLE review_decisions (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id       BIGINT  NOT NULL REFERENCES reviews (id),
    incident_number BIGINT  NOT NULL REFERENCES incidents (number),
    text            TEXT    NOT NULL
);
CREATE INDEX review_decisions_review ON review_decisions (review_id, id);
CREATE INDEX review_decisions_incident ON review_decisions (incident_number, id);

-- The review day: at most one row. weekday is 0 (Sunday) to 6, minute the
-- minutes after midnight in timezone (an IANA name).
CREATE TABLE review_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    weekday    INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    minute     INTEGER NOT NULL CHECK (minute BETWEEN 0 AND 1439),
    timezone   TEXT    NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- Periods: the agenda's "opened", the insights and the log's from/to
-- select incidents by when they were opened, and the insights count
-- their services (the primary key leads with the service, so an
-- incident's services were found by a full scan; replacing them too).
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incident_services_incident ON incident_services (incident_number, service);

-- The agenda's phase changes: only transitions and reopens, so the other
-- events (alerts attached in a storm among them) cost this index nothing.
CREATE INDEX events_phase_changes ON events (at) WHERE kind IN ('transitioned', 'reopened');

-- The alerts of a period by name (noise candidates, the noisiest, alerts
-- per incident). alertname is the alertname label, or the title when an
-- alert has none: the same column as SQLite's, so the queries read alike.
-- The index covers the queries, so a period reads only its own entries,
-- in time order; new alerts go to its end.
ALTER TABLE alerts ADD COLUMN alertname TEXT GENERATED ALWAYS AS (COALESCE((labels::jsonb) ->> 'alertname', title)) STORED;
CREATE INDEX alerts_first_seen ON alerts (first_seen, alertname, incident_number);
