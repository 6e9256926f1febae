-- Quench schema 7 (SQLite): counts that keep intake's work per alert
-- constant in an alert storm, and what senders left out of a delivery.

-- Attached and firing alerts of each incident, kept by intake in the
-- transaction that changes them: the "alerts resolved — mitigated?" hint
-- is read from two numbers instead of every alert of the incident.
ALTER TABLE incidents ADD COLUMN alerts_attached BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN alerts_firing BIGINT NOT NULL DEFAULT 0;
-- The most alerts of the incident's group a sender said it left out of
-- one delivery (Alertmanager's truncatedAlerts, from max_alerts).
ALTER TABLE incidents ADD COLUMN alerts_truncated BIGINT NOT NULL DEFAULT 0;
-- Alerts of its group the sender left out of the delivery that last
-- carried this alert.
ALTER TABLE alerts ADD COLUMN truncated BIGINT NOT NULL DEFAULT 0;
-- Firing alerts in no incident, per integration: the inbox size without
-- counting rows.
ALTER TABLE integrations ADD COLUMN inbox_firing BIGINT NOT NULL DEFAULT 0;

UPDATE incidents SET
    alerts_attached = (SELECT count(*) FROM alerts WHERE incident_number = incidents.number),
    alerts_firing = (SELECT count(*) FROM alerts WHERE incident_number = incidents.number AND status = 'firing');
UPDATE integrations SET
    inbox_firing = (SELECT count(*) FROM alerts WHERE integration_id = integrations.id AND incident_number IS NULL AND status = 'firing');

-- Alerts are found by (integration, fingerprint) without a unique index
-- on alerts: it cost one random page per new alert in the single writer.
-- alert_keys holds a 64-bit hash of the key and the alert's id, filled in
-- sorted runs; the alerts past the counter 'alert_keys' are kept in the
-- writer's memory until then (see internal/store/alertkeys.go).
-- quench_alert_key is a function Quench registers with SQLite.
CREATE TABLE alert_keys (
    k        INTEGER NOT NULL,
    alert_id INTEGER NOT NULL,
    PRIMARY KEY (k, alert_id)
) WITHOUT ROWID;
INSERT INTO alert_keys (k, alert_id) SELECT quench_alert_key(integration_id, fingerprint), id FROM alerts ORDER BY 1, 2;
INSERT INTO counters (name, value) VALUES ('alert_keys', (SELECT COALESCE(max(id), 0) FROM alerts));

-- The table again, without its UNIQUE (integration_id, fingerprint).
CREATE TABLE alerts_new (
    id              INTEGER PRIMARY KEY,
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
    truncated       BIGINT  NOT NULL DEFAULT 0,
    alertname       TEXT    GENERATED ALWAYS AS (COALESCE(json_extract(labels, '$.alertname'), title)) VIRTUAL
);
INSERT INTO alerts_new (id, integration_id, fingerprint, status, title, labels, annotations, links, group_key,
    starts_at, ends_at, first_seen, last_seen, received, incident_number, truncated) SELECT id, integration_id, fingerprint, status, title, labels, annotations, links, group_key,
    starts_at, ends_at, first_seen, last_seen, received, incident_number, truncated FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_incident ON alerts (incident_number) WHERE incident_number IS NOT NULL;
CREATE INDEX alerts_group ON alerts (integration_id, group_key, incident_number) WHERE incident_number IS NOT NULL;
CREATE INDEX alerts_first_seen ON alerts (first_seen, alertname, incident_number);
