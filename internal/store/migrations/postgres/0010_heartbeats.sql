-- Quench schema 10 (PostgreSQL): heartbeats, check-in URLs for cron jobs and
-- scripts; a missed deadline becomes a firing HeartbeatMissed alert.

-- Heartbeat alerts come in through the intake like any other, from the
-- built-in integration "heartbeat" (it has no token: nothing else can post
-- as it).
ALTER TABLE integrations DROP CONSTRAINT integrations_type_check;
ALTER TABLE integrations ADD CONSTRAINT integrations_type_check
    CHECK (type IN ('alertmanager', 'grafana', 'sentry', 'generic', 'report', 'heartbeat'));
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
