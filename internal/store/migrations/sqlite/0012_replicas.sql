-- Quench schema 12 (SQLite): what several replicas on one database must share.

-- Leases of background jobs that one replica at a time runs (retention,
-- nudges, the review agenda, heartbeat deadlines): the holder renews its
-- lease while it lives; once the lease has run out another replica takes
-- the job over.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

-- Failed sign-ins of the last throttle window, by key (an account or an
-- address), so that throttling holds whichever replica is asked.
CREATE TABLE signin_failures (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX signin_failures_key_at ON signin_failures (key, at);
CREATE INDEX signin_failures_at ON signin_failures (at);
