package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// mergeWorld is a duplicate #1 with two alerts, two links, two checklist
// items, an attachment of its own and one of its public update, and a
// target #2 with one of each already.
func mergeWorld(t *testing.T, st *store.Store) *service.Service {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	svc := service.New(st, service.Options{Now: func() time.Time { return now }})
	for _, title := range []string{"checkout down (dup)", "checkout down"} {
		if _, err := svc.OpenIncident(ctx, service.System, incident.Draft{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "generic", Name: "cron"})
	must(t, err)
	var alerts []alert.Alert
	for i := range 3 {
		alerts = append(alerts, alert.Alert{Fingerprint: fmt.Sprint("fp", i), Status: alert.Firing, Title: fmt.Sprint("disk ", i),
			Labels: map[string]string{"severity": "warning"}, StartsAt: now})
	}
	if _, err := svc.Ingest(ctx, in.ID, "", alerts); err != nil {
		t.Fatal(err)
	}
	recs, err := svc.Alerts(ctx, service.System, service.AlertQuery{})
	must(t, err)
	var ids []int64
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	if len(ids) != 3 {
		t.Fatalf("inbox holds %d alerts", len(ids))
	}
	_, err = svc.AttachAlerts(ctx, service.System, 1, ids[:2])
	must(t, err)
	_, err = svc.AttachAlerts(ctx, service.System, 2, ids[2:])
	must(t, err)
	for n, links := range map[int64]int{1: 2, 2: 1} {
		for i := range links {
			_, err := svc.AddLink(ctx, service.System, n, service.NewLink{Kind: incident.LinkDashboard, URL: fmt.Sprintf("https://dash.example/%d/%d", n, i)})
			must(t, err)
			_, err = svc.AddChecklistItem(ctx, service.System, n, service.NewChecklistItem{Text: fmt.Sprintf("item %d of #%d", i, n)})
			must(t, err)
		}
		_, err := svc.AddAttachment(ctx, service.System, n, service.NewAttachment{Filename: "log.txt", Data: []byte(fmt.Sprint("log of #", n))})
		must(t, err)
	}
	u, err := svc.PostUpdate(ctx, service.System, 1, "we are on it", incident.Public)
	must(t, err)
	_, err = svc.AddAttachment(ctx, service.System, 1, service.NewAttachment{Filename: "shot.txt", Data: []byte("of the update"), Update: u.ID})
	must(t, err)
	return svc
}

// children counts, per incident, its alerts, links, checklist items,
// attachments (of its own; of updates), updates and events, and the
// alert counts kept on the incident (its row's and its slots').
func children(t *testing.T, st *store.Store, n int64) string {
	t.Helper()
	var out []int
	must(t, st.Read(context.Background(), func(tx *store.Tx) error {
		for _, q := range []string{
			`SELECT count(*) FROM alerts WHERE incident_number = $1`,
			`SELECT count(*) FROM links WHERE incident_number = $1`,
			`SELECT count(*) FROM checklist_items WHERE incident_number = $1`,
			`SELECT count(*) FROM attachments WHERE incident_number = $1 AND update_id IS NULL`,
			`SELECT count(*) FROM attachments WHERE incident_number = $1 AND update_id IS NOT NULL`,
			`SELECT count(*) FROM updates WHERE incident_number = $1`,
			`SELECT count(*) FROM events WHERE incident_number = $1`,
			// The row's counts plus its slots' (AddAlertCountsShared).
			`SELECT alerts_attached + (SELECT COALESCE(sum(attached), 0) FROM incident_alert_counts WHERE incident_number = $1)
				FROM incidents WHERE number = $1`,
			`SELECT alerts_firing + (SELECT COALESCE(sum(firing), 0) FROM incident_alert_counts WHERE incident_number = $1)
				FROM incidents WHERE number = $1`,
		} {
			var c int
			if err := tx.QueryCount(context.Background(), q, &c, n); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	}))
	return fmt.Sprintf("alerts=%d links=%d items=%d files=%d update-files=%d updates=%d events=%d attached=%d firing=%d",
		out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8])
}

// A merge moves every child of the duplicate to the target exactly once,
// keeps its updates (and their files) where they were written, and
// records itself in both timelines; on both databases.
func TestMergeMovesEveryChildOnce(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		svc := mergeWorld(t, st)
		ctx := context.Background()
		before1, before2 := children(t, st, 1), children(t, st, 2)
		if want := "alerts=2 links=2 items=2 files=1 update-files=1 updates=1 events=10 attached=2 firing=2"; before1 != want {
			t.Fatalf("#1 before: %s, want %s", before1, want)
		}
		if want := "alerts=1 links=1 items=1 files=1 update-files=0 updates=0 events=5 attached=1 firing=1"; before2 != want {
			t.Fatalf("#2 before: %s, want %s", before2, want)
		}
		res, err := svc.MergeIncident(ctx, service.System, 1, 2, "the same outage, opened twice")
		must(t, err)
		if m := res.Moved; m != (store.Moved{Alerts: 2, Links: 2, ChecklistItems: 2, Attachments: 1}) {
			t.Fatalf("moved %+v", m)
		}
		if got, want := children(t, st, 1), "alerts=0 links=0 items=0 files=0 update-files=1 updates=1 events=11 attached=0 firing=0"; got != want {
			t.Errorf("#1 after: %s, want %s", got, want)
		}
		if got, want := children(t, st, 2), "alerts=3 links=3 items=3 files=2 update-files=0 updates=0 events=6 attached=3 firing=3"; got != want {
			t.Errorf("#2 after: %s, want %s", got, want)
		}
		// Exactly once: no row was copied, so the totals did not change.
		var totals [4]int
		must(t, st.Read(ctx, func(tx *store.Tx) error {
			for i, table := range []string{"alerts", "links", "checklist_items", "attachments"} {
				if err := tx.QueryCount(ctx, `SELECT count(*) FROM `+table, &totals[i]); err != nil {
					return err
				}
			}
			return nil
		}))
		if totals != [4]int{3, 3, 3, 3} {
			t.Errorf("alerts, links, items, attachments in all: %v, want 3 each", totals)
		}
		inc, err := svc.Incident(ctx, service.System, 1)
		must(t, err)
		if inc.EndState != incident.Merged || inc.MergedInto != 2 || inc.EndReason != "the same outage, opened twice" || inc.Phase != incident.Active {
			t.Errorf("#1 after: %+v", inc)
		}
		tl, err := svc.Timeline(ctx, service.System, 2)
		must(t, err)
		last := tl[len(tl)-1]
		if last.Kind != incident.EventMergedFrom || last.Sentence("") != "merged #1 into this incident (2 alerts, 2 links, 2 checklist items, 1 attachments moved; its updates stay on #1): the same outage, opened twice" {
			t.Errorf("#2's last event: %s %q", last.Kind, last.Sentence(""))
		}
	})
}

// A failure in the middle of a merge (a trigger refusing the move of the
// checklist items, after the alerts and links moved) leaves none of it:
// no child moved, no end state, no event, no message.
func TestMergeFailureLeavesNothing(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		svc := mergeWorld(t, st)
		ctx := context.Background()
		before1, before2 := children(t, st, 1), children(t, st, 2)
		trigger := []string{`CREATE TRIGGER fail_merge BEFORE UPDATE OF incident_number ON checklist_items
			BEGIN SELECT RAISE(ABORT, 'injected failure mid-merge'); END`}
		if st.Dialect() == store.Postgres {
			trigger = []string{`CREATE FUNCTION fail_merge() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure mid-merge'; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER fail_merge BEFORE UPDATE OF incident_number ON checklist_items FOR EACH ROW EXECUTE FUNCTION fail_merge()`}
		}
		must(t, write(st, func(ctx context.Context, tx *store.Tx) error {
			for _, q := range trigger {
				if err := tx.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}))
		_, err := svc.MergeIncident(ctx, service.System, 1, 2, "the same outage")
		if pe, ok := problem.As(err); err == nil || (ok && pe.Kind != problem.Internal) {
			t.Fatalf("merge with a failing step: %v", err)
		}
		if got := children(t, st, 1); got != before1 {
			t.Errorf("#1 after a failed merge: %s, want %s", got, before1)
		}
		if got := children(t, st, 2); got != before2 {
			t.Errorf("#2 after a failed merge: %s, want %s", got, before2)
		}
		inc, err := svc.Incident(ctx, service.System, 1)
		must(t, err)
		if inc.Ended() || inc.MergedInto != 0 {
			t.Errorf("#1 after a failed merge: %s %d", inc.EndState, inc.MergedInto)
		}
		var outbox int
		must(t, st.Read(ctx, func(tx *store.Tx) error {
			return tx.QueryCount(ctx, `SELECT count(*) FROM events WHERE kind IN ('merged', 'merged_from')`, &outbox)
		}))
		if outbox != 0 {
			t.Errorf("%d merge events after a failed merge", outbox)
		}
		// Without the fault the same merge goes through.
		must(t, write(st, func(ctx context.Context, tx *store.Tx) error {
			return tx.Exec(ctx, `DROP TRIGGER fail_merge`+onTable(st))
		}))
		if _, err := svc.MergeIncident(ctx, service.System, 1, 2, "the same outage"); err != nil {
			t.Fatal(err)
		}
		if got := children(t, st, 2); got[:len("alerts=3 links=3 items=3")] != "alerts=3 links=3 items=3" {
			t.Errorf("#2 after the merge: %s", got)
		}
	})
}

func onTable(st *store.Store) string {
	if st.Dialect() == store.Postgres {
		return " ON checklist_items"
	}
	return ""
}
