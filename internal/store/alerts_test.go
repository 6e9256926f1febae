package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// newRecord is a firing alert of integration in, first seen at t0+seen.
func newRecord(in, fingerprint string, seen time.Duration) *alert.Record {
	at := t0.Add(seen)
	return &alert.Record{
		Alert: alert.Alert{
			Fingerprint: fingerprint, Status: alert.Firing, Title: "disk full on " + fingerprint,
			Labels:      map[string]string{"alertname": "DiskFull", "instance": fingerprint},
			Annotations: map[string]string{},
			StartsAt:    at, GroupKey: "{}:{alertname=\"DiskFull\"}", Links: []alert.Link{},
		},
		IntegrationID: in, FirstSeen: at, LastSeen: at, Received: 1,
	}
}

func insertAlert(t *testing.T, s *store.Store, r *alert.Record) *alert.Record {
	t.Helper()
	must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAlert(ctx, r) }))
	return r
}

func fingerprints(list []*alert.Record) []string {
	var out []string
	for _, r := range list {
		out = append(out, r.Fingerprint)
	}
	return out
}

func TestAlertRoundTrip(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		inc := newIncident(t, s, nil)
		r := newRecord("a1", "fp1", 0)
		r.Annotations = map[string]string{"summary": "ümlaut \"quoted\"", "runbook_url": "https://runbooks.example/disk"}
		r.Links = []alert.Link{{Kind: "runbook", URL: "https://runbooks.example/disk", Title: "Runbook"}, {Kind: "source", URL: "https://prom.example/graph"}}
		insertAlert(t, s, r)
		if r.ID == 0 {
			t.Fatal("no id set")
		}
		got := read(t, s, func(tx *store.Tx) (*alert.Record, error) { return tx.Alert(ctx, r.ID) })
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}

		// The latest state replaces the stored one.
		r.Status, r.EndsAt, r.LastSeen, r.Received, r.Incident = alert.Resolved, t0.Add(time.Hour), t0.Add(time.Hour), 3, inc.Number
		r.Labels["severity"] = "critical"
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAlert(ctx, r) }))
		got = read(t, s, func(tx *store.Tx) (*alert.Record, error) { return tx.Alert(ctx, r.ID) })
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("after save:\n got %+v\nwant %+v", got, r)
		}

		// Nil maps and links are stored empty.
		bare := &alert.Record{Alert: alert.Alert{Fingerprint: "bare", Status: alert.Firing, Title: "x", StartsAt: t0}, IntegrationID: "a1", FirstSeen: t0, LastSeen: t0}
		insertAlert(t, s, bare)
		got = read(t, s, func(tx *store.Tx) (*alert.Record, error) { return tx.Alert(ctx, bare.ID) })
		if got.Labels == nil || got.Annotations == nil || got.Links == nil || len(got.Labels)+len(got.Annotations)+len(got.Links) != 0 {
			t.Fatalf("bare alert: %+v", got)
		}

		if _, err := readErr(s, func(tx *store.Tx) (*alert.Record, error) { return tx.Alert(ctx, 9999) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown alert: %v", err)
		}
		// (integration, fingerprint) is the key.
		if err := write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.InsertAlert(ctx, newRecord("a1", "fp1", time.Minute))
		}); !store.IsUnique(err) {
			t.Fatalf("same fingerprint twice: %v", err)
		}
		newIntegration(t, s, "a2", "two")
		insertAlert(t, s, newRecord("a2", "fp1", 0))
		if err := write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.InsertAlert(ctx, newRecord("ghost", "fp1", 0))
		}); err == nil {
			t.Fatal("alert of an unknown integration stored")
		}
	})
}

// InsertAlerts and AlertsByFingerprint work in chunks of 500 rows: the
// batches here cross those boundaries.
func TestAlertsInBulk(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		newIntegration(t, s, "a2", "two")
		var recs []*alert.Record
		var fps []string
		for i := range 1001 {
			fp := fmt.Sprintf("fp%04d", i)
			recs = append(recs, newRecord("a1", fp, time.Duration(i)*time.Second))
			fps = append(fps, fp)
		}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAlerts(ctx, recs) }))
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAlerts(ctx, nil) }))
		insertAlert(t, s, newRecord("a2", "fp0000", 0))

		byFP := read(t, s, func(tx *store.Tx) (map[string]*alert.Record, error) {
			return tx.AlertsByFingerprint(ctx, "a1", append(slices.Clone(fps), "unknown"))
		})
		if len(byFP) != 1001 {
			t.Fatalf("%d alerts by fingerprint, want 1001", len(byFP))
		}
		for i, fp := range fps {
			got, want := byFP[fp], recs[i]
			want.ID = got.ID // InsertAlerts does not read IDs back
			if got.ID == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got %+v\nwant %+v", fp, got, want)
			}
		}
		if other := read(t, s, func(tx *store.Tx) (map[string]*alert.Record, error) {
			return tx.AlertsByFingerprint(ctx, "a2", fps)
		}); len(other) != 1 || other["fp0000"].IntegrationID != "a2" {
			t.Fatalf("other integration's alerts: %v", other)
		}
		if none := read(t, s, func(tx *store.Tx) (map[string]*alert.Record, error) {
			return tx.AlertsByFingerprint(ctx, "a1", nil)
		}); len(none) != 0 {
			t.Fatalf("no fingerprints: %v", none)
		}
	})
}

func TestAlertInbox(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		newIntegration(t, s, "a2", "two")
		one := newIncident(t, s, nil)
		two := newIncident(t, s, nil)
		// Last seen at minutes 1..6; attached ones are listed after the inbox.
		insertAlert(t, s, newRecord("a1", "a", 1*time.Minute))
		b := newRecord("a1", "b", 2*time.Minute)
		b.Incident = one.Number
		insertAlert(t, s, b)
		c := newRecord("a2", "c", 3*time.Minute)
		c.Status, c.EndsAt = alert.Resolved, t0.Add(4*time.Minute)
		insertAlert(t, s, c)
		d := newRecord("a1", "d", 4*time.Minute)
		d.Incident = two.Number
		insertAlert(t, s, d)
		insertAlert(t, s, newRecord("a2", "e", 5*time.Minute))
		f := newRecord("a1", "f", 6*time.Minute)
		f.Incident = one.Number
		insertAlert(t, s, f)
		// g ties with e on last_seen: the newer id first.
		insertAlert(t, s, newRecord("a1", "g", 5*time.Minute))

		tests := []struct {
			name string
			f    store.AlertFilter
			want []string
		}{
			{"all: inbox first, newest seen first", store.AlertFilter{}, []string{"g", "e", "c", "a", "f", "d", "b"}},
			{"firing", store.AlertFilter{Status: alert.Firing}, []string{"g", "e", "a", "f", "d", "b"}},
			{"resolved", store.AlertFilter{Status: alert.Resolved}, []string{"c"}},
			{"integration", store.AlertFilter{Integration: "a2"}, []string{"e", "c"}},
			{"unattached", store.AlertFilter{Unattached: true}, []string{"g", "e", "c", "a"}},
			{"incident", store.AlertFilter{Incident: one.Number}, []string{"f", "b"}},
			{"combined", store.AlertFilter{Integration: "a1", Unattached: true, Status: alert.Firing}, []string{"g", "a"}},
			{"page 1", store.AlertFilter{Limit: 3}, []string{"g", "e", "c"}},
			{"page 2", store.AlertFilter{Limit: 3, Offset: 3}, []string{"a", "f", "d"}},
			{"past the end", store.AlertFilter{Limit: 3, Offset: 7}, nil},
			{"negative offset", store.AlertFilter{Limit: 2, Offset: -5}, []string{"g", "e"}},
		}
		for _, tt := range tests {
			got := fingerprints(read(t, s, func(tx *store.Tx) ([]*alert.Record, error) { return tx.Alerts(ctx, tt.f) }))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}

		if got := fingerprints(read(t, s, func(tx *store.Tx) ([]*alert.Record, error) { return tx.IncidentAlerts(ctx, one.Number) })); !slices.Equal(got, []string{"b", "f"}) {
			t.Errorf("incident alerts in id order: %v", got)
		}
		if got := read(t, s, func(tx *store.Tx) ([]*alert.Record, error) { return tx.IncidentAlerts(ctx, 99) }); len(got) != 0 {
			t.Errorf("alerts of an unknown incident: %v", got)
		}
		var total int
		newest := read(t, s, func(tx *store.Tx) (list []*alert.Record, err error) {
			list, total, err = tx.NewestIncidentAlerts(ctx, one.Number, 1)
			return list, err
		})
		if got := fingerprints(newest); !slices.Equal(got, []string{"f"}) || total != 2 {
			t.Errorf("newest incident alert: %v of %d", got, total)
		}
	})
}

func TestAlertsDefaultLimit(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		var recs []*alert.Record
		for i := range 120 {
			recs = append(recs, newRecord("a1", fmt.Sprint(i), time.Duration(i)*time.Second))
		}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAlerts(ctx, recs) }))
		if got := read(t, s, func(tx *store.Tx) ([]*alert.Record, error) { return tx.Alerts(ctx, store.AlertFilter{}) }); len(got) != 100 {
			t.Fatalf("%d alerts without a limit, want 100", len(got))
		}
	})
}

// An alert names an integration and an incident that exist, on both
// databases, whether inserted (one or several in a statement) or saved:
// SQLite checks its foreign keys, PostgreSQL a trigger per statement
// (schema 15), and both refuse with a foreign-key error that changes
// nothing.
func TestAlertParentsMustExist(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		inc := newIncident(t, s, nil)
		refused := func(what string, fn func(ctx context.Context, tx *store.Tx) error) {
			t.Helper()
			if err := write(s, fn); !store.IsForeignKey(err) {
				t.Fatalf("%s: %v, want a foreign-key error", what, err)
			}
		}
		refused("unknown integration", func(ctx context.Context, tx *store.Tx) error {
			return tx.InsertAlert(ctx, newRecord("ghost", "g1", 0))
		})
		refused("unknown incident", func(ctx context.Context, tx *store.Tx) error {
			r := newRecord("a1", "g2", 0)
			r.Incident = inc.Number + 1
			return tx.InsertAlert(ctx, r)
		})
		refused("one bad alert of several", func(ctx context.Context, tx *store.Tx) error {
			good, bad := newRecord("a1", "g3", 0), newRecord("a1", "g4", 0)
			good.Incident, bad.Incident = inc.Number, inc.Number+7
			return tx.InsertAlertRows(ctx, []store.AlertRow{{Record: good, Encoded: store.Encode(&good.Alert)}, {Record: bad, Encoded: store.Encode(&bad.Alert)}})
		})
		r := insertAlert(t, s, newRecord("a1", "ok", 0))
		refused("saved to an unknown incident", func(ctx context.Context, tx *store.Tx) error {
			c := *r
			c.Incident = inc.Number + 1
			return tx.SaveAlert(ctx, &c)
		})
		r.Incident = inc.Number
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAlert(ctx, r) }))
		var n int
		must(t, s.Read(ctx, func(tx *store.Tx) error { return tx.QueryCount(ctx, `SELECT count(*) FROM alerts`, &n) }))
		if n != 1 {
			t.Fatalf("%d alerts stored, want the one good one", n)
		}
	})
}

// On PostgreSQL, finding a group's open incident reads a few index
// entries however many alerts the group's incidents hold: in a storm it
// runs once per group transaction, and it used to read and sort every
// alert of the storm each time. Counted in the plan's rows, not timed.
func TestOpenIncidentForGroupReadsFewAlerts(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		if s.Dialect() != store.Postgres {
			t.Skip("the query is PostgreSQL's")
		}
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		open := newIncident(t, s, nil)
		closed := newIncident(t, s, func(i *incident.Incident) { i.Phase = incident.Closed })
		const each = 300
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			for i := range 2 * each {
				r := newRecord("a1", fmt.Sprintf("f%d", i), 0)
				r.GroupKey, r.Incident = "storm", open.Number
				if i >= each {
					r.Incident = closed.Number
				}
				if err := tx.InsertAlert(ctx, r); err != nil {
					return err
				}
			}
			return nil
		}))
		if n, err := readErr(s, func(tx *store.Tx) (int64, error) { return tx.OpenIncidentForGroup(ctx, "a1", "storm") }); err != nil || n != open.Number {
			t.Fatalf("group: %d %v, want %d", n, err, open.Number)
		}
		// The look of a write transaction, which holds what it finds.
		var plans []string
		must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
			plans, err = tx.Names(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+store.OpenIncidentForGroupPg, "a1", "storm")
			return err
		}))
		var doc []struct{ Plan planNode }
		if err := json.Unmarshal([]byte(strings.Join(plans, "")), &doc); err != nil || len(doc) != 1 {
			t.Fatalf("plan: %v %q", err, plans)
		}
		if rows := doc[0].Plan.alertRows(); rows > 10 {
			t.Fatalf("the look-up read %.0f alert rows of %d, want a few: %s", rows, 2*each, plans)
		}
	})
}

// planNode is a node of PostgreSQL's EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	Relation string     `json:"Relation Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Plans    []planNode `json:"Plans"`
}

// alertRows counts the rows the plan's scans of alerts returned.
func (p planNode) alertRows() float64 {
	n := 0.0
	if p.Relation == "alerts" {
		n = p.Rows * p.Loops
	}
	for _, c := range p.Plans {
		n += c.alertRows()
	}
	return n
}

// A new alert of a group joins the newest incident of the group that is
// not closed.
func TestOpenIncidentForGroup(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		newIntegration(t, s, "a2", "two")
		group := func(in, key string) (int64, error) {
			return readErr(s, func(tx *store.Tx) (int64, error) { return tx.OpenIncidentForGroup(ctx, in, key) })
		}
		if _, err := group("a1", "g"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("empty: %v", err)
		}
		attach := func(in, fp, key string, number int64) {
			r := newRecord(in, fp, 0)
			r.GroupKey, r.Incident = key, number
			insertAlert(t, s, r)
		}
		older := newIncident(t, s, nil)
		newer := newIncident(t, s, nil)
		closed := newIncident(t, s, func(i *incident.Incident) { i.Phase = incident.Closed })
		attach("a1", "x1", "g", older.Number)
		attach("a1", "x2", "g", newer.Number)
		attach("a1", "x3", "g", closed.Number)
		attach("a1", "x4", "g", 0) // in the inbox
		attach("a1", "x5", "h", older.Number)
		if n, err := group("a1", "g"); err != nil || n != newer.Number {
			t.Fatalf("group g: %d %v, want %d", n, err, newer.Number)
		}
		if n, err := group("a1", "h"); err != nil || n != older.Number {
			t.Fatalf("group h: %d %v", n, err)
		}
		if _, err := group("a2", "g"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other integration: %v", err)
		}
		attach("a1", "y1", "only-closed", closed.Number)
		if _, err := group("a1", "only-closed"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("closed incident joined: %v", err)
		}
		// Past several ended incidents, newest first, to an open one.
		cancelled := newIncident(t, s, nil)
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.Exec(ctx, `UPDATE incidents SET end_state = 'cancelled' WHERE number = $1`, cancelled.Number)
		}))
		closed2 := newIncident(t, s, func(i *incident.Incident) { i.Phase = incident.Closed })
		attach("a1", "z1", "k", older.Number)
		attach("a1", "z2", "k", cancelled.Number)
		attach("a1", "z3", "k", closed2.Number)
		attach("a1", "z4", "k", closed.Number)
		if n, err := group("a1", "k"); err != nil || n != older.Number {
			t.Fatalf("group k: %d %v, want %d", n, err, older.Number)
		}
	})
}

// The alertname column the review's insights group by is the alertname
// label (an empty one too), else the title, and follows a saved title. It
// is a plain column Quench writes (schema 16) on both databases: no JSON
// parse of the labels per alert written.
func TestAlertNameColumn(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		named := newRecord("a1", "fp-named", 0)
		untitled := newRecord("a1", "fp-untitled", time.Second)
		untitled.Labels = map[string]string{"instance": "db-1"}
		untitled.Title = "Backup late"
		empty := newRecord("a1", "fp-empty", 2*time.Second)
		empty.Labels = map[string]string{"alertname": ""}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.InsertAlerts(ctx, []*alert.Record{named, untitled})
		}))
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.InsertNewAlerts(ctx, []store.AlertRow{{Record: empty}})
			return err
		}))
		untitled.Title = "Backup very late"
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAlert(ctx, untitled) }))

		got := read(t, s, func(tx *store.Tx) ([]review.AlertName, error) {
			return tx.AlertNames(ctx, t0.Add(-time.Hour), t0.Add(time.Hour), false, 10)
		})
		want := []review.AlertName{{Name: "", Alerts: 1, Unattached: 1}, {Name: "Backup very late", Alerts: 1, Unattached: 1},
			{Name: "DiskFull", Alerts: 1, Unattached: 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("alert names %+v, want %+v", got, want)
		}

		q := `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'alerts'
			AND column_name = 'alertname' AND is_generated = 'NEVER'`
		if s.Dialect() == store.SQLite {
			q = `SELECT count(*) FROM pragma_table_xinfo('alerts') WHERE name = 'alertname' AND hidden = 0`
		}
		plain := read(t, s, func(tx *store.Tx) (int, error) {
			var n int
			return n, tx.QueryCount(ctx, q, &n)
		})
		if plain != 1 {
			t.Errorf("alerts.alertname is not a plain column")
		}
	})
}
