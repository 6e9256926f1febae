package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Alerts are found by (integration, fingerprint) whichever level holds
// their key: on SQLite some keys are merged into alert_keys while the
// writes go on, the others are in the writer's memory, and after a
// restart the memory is rebuilt from the rows past the low-water mark.
// A key is stored once, whatever level it is on.
func TestAlertKeysAcrossMergesAndRestart(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			opt := testenv.StoreOptions(t, d)
			open := func() *store.Store {
				s, err := store.Open(ctx, opt)
				must(t, err)
				t.Cleanup(func() { s.Close() })
				_, err = s.Migrate(ctx)
				must(t, err)
				if d == store.SQLite {
					store.SetMergeAt(s, 7)
				}
				return s
			}
			s := open()
			newIntegration(t, s, "a1", "one")
			newIntegration(t, s, "a2", "two")
			var fps []string
			insert := func(s *store.Store, from, n int) {
				var recs []*alert.Record
				for i := from; i < from+n; i++ {
					fp := fmt.Sprintf("fp%04d", i)
					recs = append(recs, newRecord("a1", fp, time.Duration(i)*time.Second))
					fps = append(fps, fp)
				}
				must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAlerts(ctx, recs) }))
			}
			for i := range 30 {
				insert(s, 10*i, 10)
			}
			insertAlert(t, s, newRecord("a2", "fp0000", 0))
			check := func(s *store.Store, when string) {
				t.Helper()
				lookups := map[string]func(fn func(tx *store.Tx) error) error{
					"write": func(fn func(tx *store.Tx) error) error { return s.Write(ctx, fn) },
					"read":  func(fn func(tx *store.Tx) error) error { return s.Read(ctx, fn) },
				}
				for how, run := range lookups {
					var got map[string]*alert.Record
					must(t, run(func(tx *store.Tx) (err error) {
						got, err = tx.AlertsByFingerprint(ctx, "a1", append(slices.Clone(fps), "unknown"))
						return err
					}))
					if len(got) != len(fps) {
						t.Fatalf("%s, %s transaction: %d of %d alerts found", when, how, len(got), len(fps))
					}
					for _, fp := range fps {
						if r := got[fp]; r == nil || r.IntegrationID != "a1" || r.Fingerprint != fp {
							t.Fatalf("%s, %s transaction: %s is %+v", when, how, fp, r)
						}
					}
				}
				if err := write(s, func(ctx context.Context, tx *store.Tx) error {
					return tx.InsertAlert(ctx, newRecord("a1", fps[len(fps)/2], 0))
				}); !store.IsUnique(err) {
					t.Fatalf("%s: a stored fingerprint again: %v", when, err)
				}
				// Known keys are skipped, new ones stored, in one call.
				rows := []store.AlertRow{{Record: newRecord("a1", fps[0], 0)}, {Record: newRecord("a1", "new-"+when, 0)},
					{Record: newRecord("a1", fps[len(fps)-1], 0)}}
				var n int
				must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
					n, err = tx.InsertNewAlerts(ctx, rows)
					return err
				}))
				if n != 1 || rows[0].ID != 0 || rows[1].ID == 0 || rows[2].ID != 0 {
					t.Fatalf("%s: InsertNewAlerts stored %d: %d %d %d", when, n, rows[0].ID, rows[1].ID, rows[2].ID)
				}
				fps = append(fps, "new-"+when)
			}
			check(s, "before the restart")
			if d == store.SQLite {
				var merged int
				must(t, s.Read(ctx, func(tx *store.Tx) error { return tx.QueryCount(ctx, `SELECT count(*) FROM alert_keys`, &merged) }))
				if merged == 0 {
					t.Fatal("no key was merged into alert_keys")
				}
			}
			must(t, s.Close())
			s = open()
			check(s, "after the restart")
			insert(s, 1000, 40)
			check(s, "after more writes")
		})
	}
}

// A hash in alert_keys only names candidates: an alert whose key's hash
// collides with another alert's is neither taken for it nor refused.
func TestAlertKeyCollision(t *testing.T) {
	ctx := context.Background()
	s := testenv.NewStore(t, store.SQLite)
	newIntegration(t, s, "a1", "one")
	x := insertAlert(t, s, newRecord("a1", "fp-x", 0))
	// Pretend fp-y hashes like fp-x.
	must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
		return tx.Exec(ctx, `INSERT INTO alert_keys (k, alert_id) VALUES ($1, $2)`, store.AlertKey("a1", "fp-y"), x.ID)
	}))
	// The writer's filter of alert_keys learns keys as it merges them; a
	// key written by hand needs it filled again.
	store.RefillKeyFilter(s)
	var found map[string]*alert.Record
	must(t, s.Write(ctx, func(tx *store.Tx) (err error) {
		found, err = tx.AlertsByFingerprint(ctx, "a1", []string{"fp-y"})
		return err
	}))
	if len(found) != 0 {
		t.Fatalf("fp-y found as %+v", found)
	}
	rows := []store.AlertRow{{Record: newRecord("a1", "fp-y", 0)}}
	var n int
	must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
		n, err = tx.InsertNewAlerts(ctx, rows)
		return err
	}))
	if n != 0 {
		t.Fatal("a candidate of the hash was stored without a lookup")
	}
	y := insertAlert(t, s, newRecord("a1", "fp-y", 0))
	must(t, s.Write(ctx, func(tx *store.Tx) (err error) {
		found, err = tx.AlertsByFingerprint(ctx, "a1", []string{"fp-x", "fp-y"})
		return err
	}))
	if found["fp-x"].ID != x.ID || found["fp-y"].ID != y.ID {
		t.Fatalf("after the collision: %+v", found)
	}
}

// A job that fails takes back the keys it added: its alerts were rolled
// back, so storing them again later works.
func TestAlertKeysRolledBackWithTheJob(t *testing.T) {
	ctx := context.Background()
	s := testenv.NewStore(t, store.SQLite)
	newIntegration(t, s, "a1", "one")
	err := write(s, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.InsertAlert(ctx, newRecord("a1", "fp-1", 0)); err != nil {
			return err
		}
		return fmt.Errorf("the job fails after storing the alert")
	})
	if err == nil {
		t.Fatal("the job did not fail")
	}
	r := insertAlert(t, s, newRecord("a1", "fp-1", 0))
	var found map[string]*alert.Record
	must(t, s.Write(ctx, func(tx *store.Tx) (err error) {
		found, err = tx.AlertsByFingerprint(ctx, "a1", []string{"fp-1"})
		return err
	}))
	if found["fp-1"] == nil || found["fp-1"].ID != r.ID {
		t.Fatalf("after the rollback: %+v", found)
	}
}

// Migration 7 fills the counts from the alerts already stored, and on
// SQLite moves their keys to alert_keys: every alert is still found, and
// the key is still unique.
func TestMigrationKeepsAlertsFindable(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			s, _ := openBare(t, d)
			if _, err := store.MigrateTo(ctx, s, 6); err != nil {
				t.Fatal(err)
			}
			newIntegration(t, s, "a1", "one")
			newIntegration(t, s, "a2", "two")
			// Incidents as schema 6 held them: today's code writes columns
			// of later migrations.
			active, closed := &incident.Incident{Number: 1}, &incident.Incident{Number: 2}
			for _, inc := range []struct {
				n     int64
				phase string
			}{{1, "active"}, {2, "closed"}} {
				must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
					return tx.Exec(ctx, `INSERT INTO incidents (number, title, severity, detection_source, visibility, phase, active_at, created_by, created_at, updated_at)
						VALUES ($1, 'x', 'major', 'alert', 'public', $2, 0, 'ana', 0, 0)`, inc.n, inc.phase)
				}))
			}
			for _, a := range []struct {
				in, fp, status string
				incident       int64
			}{
				{"a1", "attached-firing", "firing", active.Number},
				{"a1", "attached-resolved", "resolved", active.Number},
				{"a1", "inbox-firing", "firing", 0},
				{"a1", "inbox-resolved", "resolved", 0},
				{"a2", "inbox-firing", "firing", 0},
				{"a2", "closed-firing", "firing", closed.Number},
			} {
				var inc any
				if a.incident != 0 {
					inc = a.incident
				}
				must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
					return tx.Exec(ctx, `INSERT INTO alerts (integration_id, fingerprint, status, title, starts_at, first_seen, last_seen, incident_number)
						VALUES ($1, $2, $3, 'x', 0, 0, 0, $4)`, a.in, a.fp, a.status, inc)
				}))
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			counts := func(n int64) store.AlertCounts {
				return read(t, s, func(tx *store.Tx) (store.AlertCounts, error) { return tx.IncidentAlertCounts(ctx, n) })
			}
			if c := counts(active.Number); c.Attached != 2 || c.Firing != 1 {
				t.Errorf("active incident: %+v", c)
			}
			if c := counts(closed.Number); c.Attached != 1 || c.Firing != 1 {
				t.Errorf("closed incident: %+v", c)
			}
			if n := read(t, s, func(tx *store.Tx) (int64, error) { return tx.InboxFiring(ctx) }); n != 2 {
				t.Errorf("inbox: %d firing, want 2", n)
			}
			var found map[string]*alert.Record
			must(t, s.Write(ctx, func(tx *store.Tx) (err error) {
				found, err = tx.AlertsByFingerprint(ctx, "a1", []string{"attached-firing", "attached-resolved", "inbox-firing", "inbox-resolved", "closed-firing"})
				return err
			}))
			if len(found) != 4 || found["attached-firing"].Incident != active.Number || found["inbox-firing"].IntegrationID != "a1" {
				t.Fatalf("after the migration: %+v", found)
			}
			if err := write(s, func(ctx context.Context, tx *store.Tx) error {
				return tx.InsertAlert(ctx, newRecord("a2", "closed-firing", 0))
			}); !store.IsUnique(err) {
				t.Fatalf("a migrated key again: %v", err)
			}
			insertAlert(t, s, newRecord("a2", "attached-firing", 0))
		})
	}
}
