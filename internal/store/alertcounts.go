package store

import (
	"context"
	"math/rand/v2"

	"github.com/jackc/pgx/v5/pgconn"
)

// An incident's alert counts on PostgreSQL: its row's columns plus the
// rows of incident_alert_counts (slots), summed when read.
//
// Why: every group transaction of a storm adds its alerts to the counts
// of the storm's incident. Updating the incident's row held it from the
// update through the commit's WAL flush, so the storm's transactions, on
// one replica or three, committed one after the other there
// (pg_stat_statements: 7.7 s spent in that update, mostly waiting, during
// a 5 s storm on three replicas). A
// transaction whose alerts only add firing alerts now adds to a slot no
// other transaction holds (FOR UPDATE SKIP LOCKED), as the inbox count
// does (noteDeliveryPg).
//
// What keeps the "alerts resolved — mitigated?" hint right: it is true
// exactly while an active incident has alerts and none of them fires.
// Adding firing alerts can only make it false, so a slot writer needs
// the hint to be false already: it reads it holding the incident's row
// FOR SHARE, to its commit. Every other change of the counts
// (alerts resolved, moved, attached by hand) updates the row, which
// waits for the slot writers in flight to commit and keeps new ones out
// until it commits (FOR SHARE and FOR NO KEY UPDATE conflict), then reads
// the slots in a new statement: it sees every alert counted and decides
// the hint on the true counts. Slot writers share the row among
// themselves; the alerts' own reference to the incident takes no lock
// (schema 15). A slot writer never goes on to update the row while
// holding it FOR SHARE (two doing so would deadlock): when the row no
// longer allows a slot once locked, its transaction runs again.

// incidentSlots bounds how many slot rows one incident's counts have: a
// slot writer takes a free one, or adds to one of these at random when
// all are held.
const incidentSlots = 32

// AddAlertCountsShared adds attached and firing alerts to an incident's
// counts in a slot, holding its row FOR SHARE, and reports true. It
// reports false and writes nothing when the change must go through
// AddAlertCounts: on SQLite (one writer, nobody to wait for), when the
// change is not an addition of firing alerts, when the incident's "alerts
// resolved" hint is set (a firing alert clears it) or when truncated
// would raise the incident's count of alerts left out.
//
// It fails with a serialization failure, which the transaction's writer
// runs again, when the row changed while it waited for it and no longer
// allows a slot: PostgreSQL then holds the row FOR SHARE for this
// transaction all the same (a lock taken on the newest version before it
// is checked again), and two transactions holding it so could not both
// go on to update it.
func (t *Tx) AddAlertCountsShared(ctx context.Context, number, attached, firing, truncated int64) (bool, error) {
	if t.dialect != Postgres || firing <= 0 || attached < 0 {
		return false, nil
	}
	// seen says whether the row allowed a slot in the statement's
	// snapshot, held whether it still did once locked.
	var seen, held, added int
	err := t.q.QueryRowContext(ctx, `WITH inc AS (SELECT number FROM incidents
			WHERE number = $1 AND NOT alerts_resolved AND alerts_truncated >= $4 FOR SHARE),
		free AS (SELECT s.slot FROM incident_alert_counts s JOIN inc ON s.incident_number = inc.number
			LIMIT 1 FOR UPDATE OF s SKIP LOCKED),
		added AS (UPDATE incident_alert_counts c SET attached = c.attached + $2, firing = c.firing + $3
			FROM free WHERE c.incident_number = $1 AND c.slot = free.slot RETURNING 1)
		SELECT (SELECT count(*) FROM incidents WHERE number = $1 AND NOT alerts_resolved AND alerts_truncated >= $4),
			(SELECT count(*) FROM inc), (SELECT count(*) FROM added)`, number, attached, firing, truncated).Scan(&seen, &held, &added)
	switch {
	case err != nil:
		return false, err
	case seen == 0:
		return false, nil // no lock taken: AddAlertCounts
	case held == 0:
		return false, errCountsChanged
	case added > 0:
		return true, nil
	}
	// Every slot is held, or there is none yet.
	_, err = t.q.ExecContext(ctx, `INSERT INTO incident_alert_counts (incident_number, slot, attached, firing) VALUES ($1, $2, $3, $4)
		ON CONFLICT (incident_number, slot) DO UPDATE SET attached = incident_alert_counts.attached + excluded.attached,
		firing = incident_alert_counts.firing + excluded.firing`, number, rand.IntN(incidentSlots), attached, firing)
	return err == nil, err
}

// errCountsChanged is a serialization failure (SQLSTATE 40001): the
// writers run the transaction again (retryable).
var errCountsChanged = serializationFailure("an incident's alert counts changed while waiting for its row")

// serializationFailure is an error of SQLSTATE 40001 with message: the
// writers run a transaction that fails with it again (retryable).
func serializationFailure(message string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: message}
}
