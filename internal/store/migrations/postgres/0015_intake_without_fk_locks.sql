-- Quench schema 15: alerts check their integration and incident once per
-- statement, without locking them.
--
-- A foreign key checks every new alert on its own, with SELECT … FOR KEY
-- SHARE on the parent row. Every alert of an integration has the same
-- parent, and every alert of a storm the same incident: with several
-- intake transactions in flight (two committers per replica, three
-- replicas) those share locks are held by several transactions at once,
-- and PostgreSQL records each new holder in a new multixact (a copy of
-- the list of holders). That made PostgreSQL's CPU per alert grow with
-- the number of replicas, and a storm cost four times an inbox alert.
--
-- The parents are never deleted (integrations and incidents end by a
-- state: deleted_at, phase, end_state), so the lock only guarded against
-- a number or id that does not exist. These statement triggers refuse
-- that just as the foreign keys did (SQLSTATE 23503), with one query per
-- statement over the rows it wrote and no lock. SQLite keeps its foreign
-- keys: one writer, no lock to share.
ALTER TABLE alerts DROP CONSTRAINT alerts_integration_id_fkey, DROP CONSTRAINT alerts_incident_number_fkey;

CREATE FUNCTION alerts_parents_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM written_alerts a WHERE NOT EXISTS (SELECT 1 FROM integrations i WHERE i.id = a.integration_id)
        OR (a.incident_number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.number = a.incident_number))) THEN
        RAISE foreign_key_violation USING MESSAGE = 'alert of an integration or incident that does not exist';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alerts_parents_on_insert AFTER INSERT ON alerts REFERENCING NEW TABLE AS written_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_parents_exist();
CREATE TRIGGER alerts_parents_on_update AFTER UPDATE ON alerts REFERENCING NEW TABLE AS written_alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_parents_exist();

-- What intake adds to an incident's alert counts while others add too:
-- a storm's group transactions each add to a slot row no other holds
-- (FOR UPDATE SKIP LOCKED) instead of all updating the incident's row one
-- after the other, each holding it through its commit. An incident's
-- counts are its row's plus its slots' (store.Tx.IncidentAlertCounts).
CREATE TABLE incident_alert_counts (
    incident_number BIGINT  NOT NULL,
    slot            INTEGER NOT NULL,
    attached        BIGINT  NOT NULL DEFAULT 0,
    firing          BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_number, slot)
);
