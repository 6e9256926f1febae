-- Quench schema 5 (PostgreSQL): notification channels, the outbox, nudges.

-- People get e-mail about their own work unless they opt out.
ALTER TABLE users ADD COLUMN notify_email BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE channels (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       TEXT    NOT NULL CHECK (type IN ('slack', 'email', 'webhook')),
    name       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL DEFAULT '',
    recipients TEXT    NOT NULL DEFAULT '[]',
    secret     TEXT    NOT NULL DEFAULT '',
    audience   TEXT    NOT NULL CHECK (audience IN ('team', 'public')),
    events     TEXT    NOT NULL DEFAULT '["*"]',
    filter     TEXT    NOT NULL DEFAULT '{}',
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- One row per message to one channel or person, written in the
-- transaction of the change it tells about. key is the idempotency key
-- (webhook-id). lane orders the messages of one incident to one receiver:
-- only the oldest unfinished message of a lane is ever sent.
CREATE TABLE outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    channel_id      BIGINT  REFERENCES channels (id) ON DELETE CASCADE,
    user_id         BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    incident        BIGINT  NOT NULL DEFAULT 0,
    update_id       BIGINT,
    lane            TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'failing', 'sent', 'failed', 'dead', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    leased_by       TEXT    NOT NULL DEFAULT '',
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state IN ('pending', 'failing');
CREATE INDEX outbox_lane ON outbox (lane, id) WHERE state IN ('pending', 'failing');
CREATE INDEX outbox_incident ON outbox (incident, id);

-- Nudges sent, so each goes out once per phase entry and kind, whichever
-- replica notices first.
CREATE TABLE nudges (
    incident   BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    phase      TEXT   NOT NULL,
    entered_at BIGINT NOT NULL,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (incident, kind, phase, entered_at)
);
