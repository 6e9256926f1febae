package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
)

// insertSQLite stores rows with one multi-row INSERT without RETURNING and
// sets their IDs, on SQLite. RETURNING made SQLite gather the rows in an
// ephemeral table and the driver hand back two strings a row; instead the
// IDs follow from the last one: alerts.id is the rowid (no AUTOINCREMENT),
// so SQLite gives each row of one statement the largest rowid so far plus
// one, as long as that is below the largest int64 (then it picks rowids
// at random, and the RETURNING path runs instead).
func (t *Tx) insertSQLite(ctx context.Context, rows []AlertRow) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if t.recent != nil && t.recent.maxID > maxSequentialID {
		return t.insertReturning(ctx, rows, "")
	}
	a := make([]any, 0, len(rows)*alertWriteCount)
	for _, r := range rows {
		a = appendAlertValues(a, r.Record, r.Encoded)
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO alerts (`+alertWriteColumns+`) VALUES `+t.rowsOf(len(rows), alertWriteCount), a...)
	if err != nil {
		return 0, err
	}
	last, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n != int64(len(rows)) || last < n || last > maxSequentialID {
		return 0, fmt.Errorf("store: %d of %d alerts stored, last id %d", n, len(rows), last)
	}
	first := last - n + 1
	for i, r := range rows {
		r.ID = first + int64(i)
		if t.recent != nil {
			t.recent.addKey(r)
		}
	}
	return len(rows), nil
}

// maxSequentialID is far below the largest rowid: up to it, new rowids
// are consecutive.
const maxSequentialID = 1 << 62

// EncodeFor is Encode for an alert of integration: it also computes the
// alert's key, which the SQLite writer would otherwise hash for every
// alert on its one goroutine.
func EncodeFor(integration string, a *alert.Alert) Encoded {
	e := Encode(a)
	e.keyFor, e.keyFP = integration, a.Fingerprint
	e.name = recentName(integration, a.Fingerprint)
	e.key = nameKey(e.name)
	return e
}

// keyName is the row's recentName and key, computed already when the row
// was encoded for its integration and fingerprint.
func (r AlertRow) keyName() (string, int64) {
	if r.name != "" && r.keyFor == r.IntegrationID && r.keyFP == r.Fingerprint {
		return r.name, r.key
	}
	name := recentName(r.IntegrationID, r.Fingerprint)
	return name, nameKey(name)
}

// addKey records the key of a row stored by the batch in progress.
func (r *recentKeys) addKey(row AlertRow) {
	name, k := row.keyName()
	r.addName(name, k, row.ID)
}

// freshRows keeps the rows whose key is neither recent nor in alert_keys
// (SQLite), the first of each key only. It runs on the writer for every
// delivery, so a delivery of a few new alerts allocates only the slice it
// returns: duplicates are found by comparing names, and alert_keys is read
// only for the keys the filter may hold.
func (t *Tx) freshRows(ctx context.Context, rows []AlertRow) ([]AlertRow, error) {
	if err := t.recentKeys(ctx); err != nil {
		return nil, err
	}
	fresh := make([]AlertRow, 0, len(rows))
	var seen map[string]bool // for large deliveries only
	if len(rows) > smallDelivery {
		seen = make(map[string]bool, len(rows))
	}
	var maybe []int // of fresh, the rows whose key alert_keys may hold
	for _, r := range rows {
		name, k := r.keyName()
		if _, ok := t.recent.lookupName(name, k); ok || repeated(fresh, seen, name) {
			continue
		}
		if t.recent.mayBeMerged(k) {
			maybe = append(maybe, len(fresh))
		}
		fresh = append(fresh, r)
	}
	if len(maybe) == 0 {
		return fresh, nil
	}
	stored := map[int64]bool{}
	for start := 0; start < len(maybe); start += insertChunk {
		chunk := maybe[start:min(start+insertChunk, len(maybe))]
		p := params{dialect: t.dialect}
		ph := make([]string, len(chunk))
		for i, at := range chunk {
			_, k := fresh[at].keyName()
			ph[i] = p.add(k)
		}
		rs, err := t.q.QueryContext(ctx, `SELECT k FROM alert_keys WHERE k IN (`+strings.Join(ph, ", ")+`)`, p.args...)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var k int64
			if err := rs.Scan(&k); err != nil {
				rs.Close()
				return nil, err
			}
			stored[k] = true
		}
		if err := errors.Join(rs.Err(), rs.Close()); err != nil {
			return nil, err
		}
	}
	kept := fresh[:0]
	for _, r := range fresh {
		// A hash in alert_keys may be another key's: the caller looks
		// such rows up and compares.
		if _, k := r.keyName(); !stored[k] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// smallDelivery is how many rows freshRows compares one by one instead
// of keeping a map of their names.
const smallDelivery = 32

// repeated reports whether name is among the rows kept so far, and notes
// it in seen when there is one.
func repeated(kept []AlertRow, seen map[string]bool, name string) bool {
	if seen != nil {
		if seen[name] {
			return true
		}
		seen[name] = true
		return false
	}
	for _, r := range kept {
		if n, _ := r.keyName(); n == name {
			return true
		}
	}
	return false
}

// appendAlertValues is alertValues appended to a, without a slice of its
// own per alert.
func appendAlertValues(a []any, r *alert.Record, e Encoded) []any {
	if e.labels == "" {
		e = Encode(&r.Alert)
	}
	var inc any
	if r.Incident != 0 {
		inc = r.Incident
	}
	return append(a, r.IntegrationID, r.Fingerprint, r.Status, r.Title, e.labels, e.annotations, e.links, r.GroupKey,
		micros(r.StartsAt), nullMicros(r.EndsAt), micros(r.FirstSeen), micros(r.LastSeen), r.Received, inc, int64(r.Truncated), alertName(&r.Alert))
}
