-- Quench schema 1 (PostgreSQL). Times are unix microseconds in BIGINT columns in
-- both dialects, so the same SQL text reads and writes them everywhere.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('responder', 'admin')),
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX tokens_user ON tokens (user_id);

-- Gapless per-instance numbers: the row lock serialises incident creation.
CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident', 0);

CREATE TABLE incidents (
    number                BIGINT  PRIMARY KEY,
    title                 TEXT    NOT NULL,
    summary               TEXT    NOT NULL DEFAULT '',
    severity              TEXT    NOT NULL,
    services              TEXT    NOT NULL DEFAULT '[]',
    labels                TEXT    NOT NULL DEFAULT '{}',
    detection_source      TEXT    NOT NULL,
    visibility            TEXT    NOT NULL,
    phase                 TEXT    NOT NULL CHECK (phase IN ('active', 'mitigated', 'resolved', 'closed')),
    active_owner          TEXT    REFERENCES users (username),
    mitigated_owner       TEXT    REFERENCES users (username),
    resolved_owner        TEXT    REFERENCES users (username),
    active_at             BIGINT  NOT NULL,
    mitigated_at          BIGINT,
    resolved_at           BIGINT,
    closed_at             BIGINT,
    mitigated_note        TEXT    NOT NULL DEFAULT '',
    resolved_note         TEXT    NOT NULL DEFAULT '',
    closed_note           TEXT    NOT NULL DEFAULT '',
    detection_improvement TEXT    NOT NULL DEFAULT '',
    alerts_resolved       BOOLEAN NOT NULL DEFAULT FALSE,
    created_by            TEXT    NOT NULL,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);
CREATE INDEX incidents_phase ON incidents (phase, updated_at);
CREATE INDEX incidents_updated ON incidents (updated_at);

CREATE TABLE incident_services (
    service         TEXT   NOT NULL,
    incident_number BIGINT NOT NULL REFERENCES incidents (number),
    PRIMARY KEY (service, incident_number)
);

CREATE TABLE updates (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_number BIGINT NOT NULL REFERENCES incidents (number),
    author          TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    visibility      TEXT   NOT NULL CHECK (visibility IN ('internal', 'public')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX updates_incident ON updates (incident_number, id);

CREATE TABLE checklist_items (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_number BIGINT  NOT NULL REFERENCES incidents (number),
    text            TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    owner           TEXT    REFERENCES users (username),
    done            BOOLEAN NOT NULL DEFAULT FALSE,
    done_by         TEXT    NOT NULL DEFAULT '',
    done_at         BIGINT,
    created_by      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX checklist_incident ON checklist_items (incident_number, id);

CREATE TABLE links (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_number BIGINT NOT NULL REFERENCES incidents (number),
    kind            TEXT   NOT NULL,
    url             TEXT   NOT NULL,
    title           TEXT   NOT NULL DEFAULT '',
    created_by      TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX links_incident ON links (incident_number, id);

CREATE TABLE events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_number BIGINT NOT NULL REFERENCES incidents (number),
    at              BIGINT NOT NULL,
    actor           TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    update_id       BIGINT REFERENCES updates (id),
    data            TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX events_incident ON events (incident_number, id);

-- The timeline is append-only, whatever the code above it does.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'timeline events are append-only';
END
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
