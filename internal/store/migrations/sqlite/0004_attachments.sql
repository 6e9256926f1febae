-- Quench schema 4 (SQLite): attachments, stored in the database so every
-- replica serves them. An attachment belongs to an update (and follows its
-- visibility) or, without one, has its own visibility.
CREATE TABLE attachments (
    id              TEXT   PRIMARY KEY,
    incident_number BIGINT NOT NULL REFERENCES incidents (number),
    update_id       BIGINT REFERENCES updates (id),
    visibility      TEXT   NOT NULL CHECK (visibility IN ('internal', 'public')),
    filename        TEXT   NOT NULL,
    content_type    TEXT   NOT NULL,
    size            BIGINT NOT NULL,
    sha256          TEXT   NOT NULL,
    width           BIGINT NOT NULL DEFAULT 0,
    height          BIGINT NOT NULL DEFAULT 0,
    data            BLOB   NOT NULL,
    uploaded_by     TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_incident ON attachments (incident_number, created_at);
