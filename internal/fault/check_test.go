package fault

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"
)

// verify compares the database with the ledger: every acknowledged alert,
// incident change and update is there, no request is half-written, no
// group has two incidents, and the database itself is sound.
func (in *instance) verify(t testing.TB, l *ledger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := in.db.open(t)
	defer db.Close()
	in.checkIntegrity(t, ctx, db)

	// Alerts: acknowledged ones present, every delivery all-or-nothing.
	type row struct {
		group    string
		incident sql.NullInt64
	}
	stored := map[string]row{}
	rows, err := db.QueryContext(ctx, `SELECT fingerprint, group_key, incident_number FROM alerts WHERE integration_id = $1`, in.integration)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var fp string
		var r row
		if err := rows.Scan(&fp, &r.group, &r.incident); err != nil {
			t.Fatal(err)
		}
		stored[fp] = r
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lost, half := 0, 0
	for _, d := range l.deliveries {
		present := 0
		for _, fp := range d.fps {
			if _, ok := stored[fp]; ok {
				present++
			}
		}
		switch {
		case d.acked && present != len(d.fps):
			lost++
			if lost <= 5 {
				t.Errorf("delivery %s was acknowledged (%d) but %d of its %d alerts are stored", d.id, d.status, present, len(d.fps))
			}
		case present != 0 && present != len(d.fps):
			half++
			if half <= 5 {
				t.Errorf("delivery %s (answer %d) is half-written: %d of %d alerts stored", d.id, d.status, present, len(d.fps))
			}
		}
	}
	if lost > 0 || half > 0 {
		t.Errorf("%d acknowledged deliveries lost alerts, %d deliveries half-written", lost, half)
	}

	// Incidents per group: critical alerts open one and the rest of the
	// group joins it; none may be left in the inbox.
	perGroup := map[string][]int64{}
	for fp, r := range stored {
		if !r.incident.Valid {
			t.Errorf("critical alert %s of group %s is in no incident", fp, r.group)
			continue
		}
		if !slices.Contains(perGroup[r.group], r.incident.Int64) {
			perGroup[r.group] = append(perGroup[r.group], r.incident.Int64)
		}
	}
	opened := 0
	for g, ns := range perGroup {
		opened += len(ns)
		if len(ns) != 1 {
			t.Errorf("group %s has %d incidents %v, want 1", g, len(ns), ns)
		}
	}
	var fromAlerts int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE detection_source = 'alert'`).Scan(&fromAlerts); err != nil {
		t.Fatal(err)
	}
	if fromAlerts != opened {
		t.Errorf("%d incidents were opened by alerts, but alerts point at %d: an incident without its alert was committed", fromAlerts, opened)
	}

	// Incident changes: phase at least the acknowledged one, at most one
	// further if a transition's answer was lost.
	phaseOf := map[int64]string{}
	rows, err = db.QueryContext(ctx, `SELECT number, phase FROM incidents`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		var p string
		if err := rows.Scan(&n, &p); err != nil {
			t.Fatal(err)
		}
		phaseOf[n] = p
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for n, tr := range l.incidents {
		p, ok := phaseOf[n]
		if !ok {
			t.Errorf("incident #%d was acknowledged (201) but is gone", n)
			continue
		}
		i := slices.Index(phases, p)
		if i < tr.acked || i > tr.acked+tr.pending {
			t.Errorf("incident #%d is %s; acknowledged phase %s (pending transition: %v)", n, p, phases[tr.acked], tr.pending == 1)
		}
	}
	bodies := map[string]int{}
	rows, err = db.QueryContext(ctx, `SELECT body, incident_number FROM updates`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b string
		var n int64
		if err := rows.Scan(&b, &n); err != nil {
			t.Fatal(err)
		}
		bodies[b]++
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for marker := range l.updates {
		if bodies[marker] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("update %q was acknowledged (201) but is gone", marker)
			}
		}
	}
	for b, c := range bodies {
		if c > 1 {
			t.Errorf("update %q stored %d times", b, c)
		}
	}
}

// checkIntegrity checks the database itself: SQLite's integrity and
// foreign-key checks; on both, the invariants the schema cannot state
// (gapless incident numbers, the counter, phase timestamps).
func (in *instance) checkIntegrity(t testing.TB, ctx context.Context, db *sql.DB) {
	t.Helper()
	if in.db.dialect == "sqlite" {
		var res []string
		rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			res = append(res, s)
		}
		rows.Close()
		if len(res) != 1 || res[0] != "ok" {
			t.Errorf("PRAGMA integrity_check: %v", res)
		}
		rows, err = db.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			t.Fatal(err)
		}
		if rows.Next() {
			t.Errorf("PRAGMA foreign_key_check reports violations")
		}
		rows.Close()
	}
	if in.db.dialect == "postgres" {
		checkPostgresIndexes(t, ctx, db)
	}
	var count, maxNum, counter int64
	err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(number), 0) FROM incidents`).Scan(&count, &maxNum)
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'incident'`).Scan(&counter)
	}
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL numbers incidents with the counter; the SQLite writer
	// with the highest number stored, the counter (older versions') only
	// bounding it from below.
	counterOK := counter == maxNum
	if in.db.dialect != "postgres" {
		counterOK = counter <= maxNum
	}
	if count != maxNum || !counterOK {
		t.Errorf("incident numbers: %d incidents, highest #%d, counter %d: want gapless numbers and the counter at the highest (PostgreSQL) or below it (SQLite)", count, maxNum, counter)
	}
	for _, q := range []struct{ what, sql string }{
		{"incidents past a phase without its timestamp", `SELECT COUNT(*) FROM incidents WHERE
			(phase IN ('mitigated', 'resolved', 'closed') AND mitigated_at IS NULL) OR
			(phase IN ('resolved', 'closed') AND resolved_at IS NULL) OR (phase = 'closed' AND closed_at IS NULL)`},
		{"incidents without their created event", `SELECT COUNT(*) FROM incidents i WHERE NOT EXISTS
			(SELECT 1 FROM events e WHERE e.incident_number = i.number)`},
		{"updates without their timeline event", `SELECT COUNT(*) FROM updates u WHERE NOT EXISTS
			(SELECT 1 FROM events e WHERE e.update_id = u.id)`},
	} {
		var n int
		if err := db.QueryRowContext(ctx, q.sql).Scan(&n); err != nil {
			t.Fatal(fmt.Errorf("%s: %w", q.what, err))
		}
		if n != 0 {
			t.Errorf("%d %s", n, q.what)
		}
	}
}

// checkPostgresIndexes verifies every B-tree index of the database with
// amcheck, when the extension is available (PostgreSQL's contrib, part of
// Debian's server package).
func checkPostgresIndexes(t testing.TB, ctx context.Context, db *sql.DB) {
	t.Helper()
	if _, err := db.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS amcheck`); err != nil {
		t.Logf("amcheck not available, indexes not verified: %v", err)
		return
	}
	rows, err := db.QueryContext(ctx, `SELECT c.relname FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
		WHERE a.amname = 'btree' AND c.relnamespace = 'public'::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `SELECT bt_index_check($1::regclass, true)`, n); err != nil {
			t.Errorf("index %s: %v", n, err)
		}
	}
}
