-- Quench schema 3 (SQLite): browser sessions, single sign-on identities and
-- the audit log.

-- A session is found by the hash of its cookie secret; id is the public
-- handle for listing and revoking it.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    hash         TEXT    NOT NULL UNIQUE,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    csrf         TEXT    NOT NULL,
    via          TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL DEFAULT '',
    remote       TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Accounts are linked to an identity provider by (issuer, subject) only,
-- never by e-mail.
CREATE TABLE identities (
    issuer        TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    email         TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL DEFAULT '',
    remote TEXT   NOT NULL DEFAULT '',
    detail TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
