package store

import (
	"context"
	"fmt"

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
		a = append(a, alertValues(r.Record, r.Encoded)...)
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
