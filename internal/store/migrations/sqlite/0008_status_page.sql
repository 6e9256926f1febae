-- Quench schema 8 (SQLite): the status page for customers, their reports
-- and e-mail subscriptions; links and checklist items get a visibility.

-- Links and checklist items are internal unless a responder says
-- otherwise, like updates, so a slip leaks nothing; the ones that exist
-- become internal.
ALTER TABLE links ADD COLUMN visibility TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('internal', 'public'));
ALTER TABLE checklist_items ADD COLUMN visibility TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('internal', 'public'));

-- Public is not published: an incident reaches the status page only when a
-- responder puts it there, under a title written for customers.
ALTER TABLE incidents ADD COLUMN on_status_page INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN status_title TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN published_at BIGINT;
CREATE INDEX incidents_published ON incidents (created_at) WHERE on_status_page = TRUE;

-- What customers see: components map to the team's services.
CREATE TABLE components (
    id          INTEGER PRIMARY KEY,
    name        TEXT   NOT NULL UNIQUE,
    description TEXT   NOT NULL DEFAULT '',
    group_name  TEXT   NOT NULL DEFAULT '',
    position    BIGINT NOT NULL DEFAULT 0,
    services    TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE maintenance (
    id         INTEGER PRIMARY KEY,
    title      TEXT   NOT NULL,
    body       TEXT   NOT NULL DEFAULT '',
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    components TEXT   NOT NULL DEFAULT '[]',
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX maintenance_ends ON maintenance (ends_at);

-- Status page settings (instance name, logo, organisation link, automatic
-- publishing) and the key that signs subscribers' links.
CREATE TABLE status_settings (
    name       TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The key is made here, once, from the database's random source, so every
-- replica signs with the same one.
INSERT INTO status_settings (name, value, updated_at) VALUES ('signing_key', lower(hex(randomblob(32))), 0);

-- E-mail subscribers: nothing but the confirmation goes to an address
-- until its owner followed the link in it (double opt-in).
CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    email           TEXT   NOT NULL UNIQUE,
    components      TEXT   NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    confirm_sent_at BIGINT NOT NULL,
    confirmed_at    BIGINT
);

-- Anonymous forms (reports, subscriptions) by client address (hashed) and
-- time, for their per-hour limits; rows older than an hour are removed as
-- new ones come.
CREATE TABLE status_requests (
    kind   TEXT   NOT NULL,
    remote TEXT   NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX status_requests_kind ON status_requests (kind, at);
INSERT INTO counters (name, value) VALUES ('status_requests', 0);

-- A customer's report is an alert of the built-in source "report"; this
-- row keeps what the alert does not: whom to tell when it is resolved.
CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    alert_id     BIGINT NOT NULL REFERENCES alerts (id),
    component_id BIGINT,
    contact      TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    notified_at  BIGINT
);
CREATE INDEX reports_alert ON reports (alert_id);

-- Outbox messages to a subscriber or a reporter.
ALTER TABLE outbox ADD COLUMN subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE;
ALTER TABLE outbox ADD COLUMN report_id BIGINT REFERENCES reports (id) ON DELETE CASCADE;

-- The integration type "report" is built in: its CHECK changes, which
-- SQLite only allows by rebuilding the table. Foreign keys are deferred to
-- the commit: dropping the old table leaves the alerts and rules that
-- point to it dangling until the rows come back into the new one.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE integrations_copy AS SELECT id, type, name, token_hash, secret, created_by, created_at, last_alert_at, deleted_at, inbox_firing FROM integrations;
DROP TABLE integrations;
CREATE TABLE integrations (
    id            TEXT    PRIMARY KEY,
    type          TEXT    NOT NULL CHECK (type IN ('alertmanager', 'grafana', 'sentry', 'generic', 'report')),
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL DEFAULT '',
    secret        TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_alert_at BIGINT,
    deleted_at    BIGINT,
    inbox_firing  BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO integrations (id, type, name, token_hash, secret, created_by, created_at, last_alert_at, deleted_at, inbox_firing)
SELECT id, type, name, token_hash, secret, created_by, created_at, last_alert_at, deleted_at, inbox_firing FROM integrations_copy;
DROP TABLE integrations_copy;
CREATE UNIQUE INDEX integrations_name ON integrations (name) WHERE deleted_at IS NULL;
INSERT INTO integrations (id, type, name, created_by, created_at) VALUES ('report', 'report', 'Status page reports (built in)', 'quench', 0);
