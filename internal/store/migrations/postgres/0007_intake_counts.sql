-- Quench schema 7 (PostgreSQL): counts that keep intake's work per alert
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
