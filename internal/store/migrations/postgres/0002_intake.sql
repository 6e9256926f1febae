-- Quench schema 2 (PostgreSQL): alert intake.

-- Timeline entries about alerts carry internal detail (labels, hosts):
-- viewers never see them.
ALTER TABLE events ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE integrations (
    id            TEXT    PRIMARY KEY,
    type          TEXT    NOT NULL CHECK (type IN ('alertmanager', 'grafana', 'sentry', 'generic')),
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL DEFAULT '',
    secret        TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_alert_at BIGINT,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX integrations_name ON integrations (name) WHERE deleted_at IS NULL;

CREATE TABLE alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    integration_id  TEXT    NOT NULL REFERENCES integrations (id),
    fingerprint     TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    title           TEXT    NOT NULL,
    labels          TEXT    NOT NULL DEFAULT '{}',
    annotations     TEXT    NOT NULL DEFAULT '{}',
    links           TEXT    NOT NULL DEFAULT '[]',
    group_key       TEXT    NOT NULL DEFAULT '',
    starts_at       BIGINT  NOT NULL,
    ends_at         BIGINT,
    first_seen      BIGINT  NOT NULL,
    last_seen       BIGINT  NOT NULL,
    received        BIGINT  NOT NULL DEFAULT 1,
    incident_number BIGINT  REFERENCES incidents (number),
    UNIQUE (integration_id, fingerprint)
);
-- Only attached alerts are looked up by incident or group, so inbox alerts
-- (most of an alert storm) cost no writes to these indexes.
CREATE INDEX alerts_incident ON alerts (incident_number) WHERE incident_number IS NOT NULL;
CREATE INDEX alerts_group ON alerts (integration_id, group_key, incident_number) WHERE incident_number IS NOT NULL;

-- Sentry deliveries already handled, so a replay changes nothing.
CREATE TABLE deliveries (
    integration_id TEXT   NOT NULL REFERENCES integrations (id),
    request_id     TEXT   NOT NULL,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (integration_id, request_id)
);

CREATE TABLE rules (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position       BIGINT NOT NULL,
    name           TEXT   NOT NULL,
    matchers       TEXT   NOT NULL DEFAULT '',
    action         TEXT   NOT NULL CHECK (action IN ('open', 'attach', 'inbox')),
    integration_id TEXT   REFERENCES integrations (id),
    severity       TEXT   NOT NULL DEFAULT '',
    visibility     TEXT   NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL
);

-- The default set: page-worthy alerts open incidents, the rest wait in
-- the inbox.
INSERT INTO rules (position, name, matchers, action, created_at)
VALUES (10, 'page-worthy alerts open incidents', 'severity=~"critical|page"', 'open', 0),
       (1000, 'everything else goes to the inbox', '', 'inbox', 0);
