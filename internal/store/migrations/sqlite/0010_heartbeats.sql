-- Quench schema 10 (SQLite): heartbeats, check-in URLs for cron jobs and
-- scripts; a missed deadline becomes a firing HeartbeatMissed alert.

-- Heartbeat alerts come in through the intake like any other, from the
-- built-in integration "heartbeat" (it has no token: nothing else can post
-- as it). Its type is new: the CHECK changes, which SQLite only allows by
-- rebuilding the table. Foreign keys are deferred to the commit: dropping
-- the old table leaves the alerts and rules that point to it dangling until
-- the rows come back into the new one.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE integrations_copy AS SELECT id, type, name, token_hash, secret, created_by, created_at, last_alert_at, deleted_at, inbox_firing FROM integrations;
DROP TABLE integrations;
CREATE TABLE integrations (
    id            TEXT    PRIMARY KEY,
    type          TEXT    NOT NULL CHECK (type IN ('alertmanager', 'grafana', 'sentry', 'generic', 'report', 'heartbeat')),
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
INSERT INTO integrations (id, type, name, created_by, created_at)
SELECT 'heartbeat', 'heartbeat',
    CASE WHEN EXISTS (SELECT 1 FROM integrations WHERE name = 'Heartbeats (built in)' AND deleted_at IS NULL)
        THEN 'Heartbeats (built-in source)' ELSE 'Heartbeats (built in)' END,
    'quench', 0;

CREATE TABLE heartbeats (
    id           TEXT   PRIMARY KEY,
    name         TEXT   NOT NULL,
    -- SHA-256 of the secret in the ping URL; the URL is shown once.
    secret_hash  TEXT   NOT NULL,
    period       BIGINT NOT NULL, -- seconds
    grace        BIGINT NOT NULL, -- seconds
    labels       TEXT   NOT NULL DEFAULT '{}',
    -- up: waiting for the next ping before deadline; down: its alert fires.
    state        TEXT   NOT NULL CHECK (state IN ('up', 'down')),
    deadline     BIGINT NOT NULL,
    last_ping_at BIGINT,
    started_at   BIGINT,
    failed_at    BIGINT,
    down_since   BIGINT,
    last_log     TEXT   NOT NULL DEFAULT '',
    pings        BIGINT NOT NULL DEFAULT 0,
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE UNIQUE INDEX heartbeats_name ON heartbeats (name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX heartbeats_secret ON heartbeats (secret_hash);
-- The deadline check reads only the heartbeats it may fire.
CREATE INDEX heartbeats_deadline ON heartbeats (deadline) WHERE state = 'up' AND deleted_at IS NULL;
