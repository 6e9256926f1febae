-- Quench schema 8 (PostgreSQL): the status page for customers, their
-- reports and e-mail subscriptions; links and checklist items get a
-- visibility.

-- Links and checklist items are internal unless a responder says
-- otherwise, like updates, so a slip leaks nothing; the ones that exist
-- become internal.
ALTER TABLE links ADD COLUMN visibility TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('internal', 'public'));
ALTER TABLE checklist_items ADD COLUMN visibility TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('internal', 'public'));

-- Public is not published: an incident reaches the status page only when a
-- responder puts it there, under a title written for customers.
ALTER TABLE incidents ADD COLUMN on_status_page BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE incidents ADD COLUMN status_title TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN published_at BIGINT;
CREATE INDEX incidents_published ON incidents (created_at) WHERE on_status_page = TRUE;

-- What customers see: components map to the team's services.
CREATE TABLE components (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT   NOT NULL UNIQUE,
    description TEXT   NOT NULL DEFAULT '',
    group_name  TEXT   NOT NULL DEFAULT '',
    position    BIGINT NOT NULL DEFAULT 0,
    services    TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE maintenance (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
INSERT INTO status_settings (name, value, updated_at) VALUES ('signing_key', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 0);

-- E-mail subscribers: nothing but the confirmation goes to an address
-- until its owner followed the link in it (double opt-in).
CREATE TABLE subscribers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- The integration type "report" is built in.
ALTER TABLE integrations DROP CONSTRAINT integrations_type_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_type_check
    CHECK (type IN ('alertmanager', 'grafana', 'sentry', 'generic', 'report'));
INSERT INTO integrations (id, type, name, created_by, created_at) VALUES ('report', 'report', 'Status page reports (built in)', 'quench', 0);
