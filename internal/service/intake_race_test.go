package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// A merge racing intake into the duplicate loses no alert to it: every
// alert of the group ends on the target, whether its delivery committed
// before the merge (the merge moves it) or after (it follows the merge),
// and the counts agree. Intake sends new alerts of the group, and
// resolves and fires again alerts already on the duplicate. On
// PostgreSQL a delivery that found the duplicate open just before the
// merge committed used to leave its alerts there.
func TestMergeRacingIntake(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		svc := app.Svc
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		mustDo(t, err)
		send := func(fp, group string, st alert.Status) (*service.IngestResult, error) {
			return svc.Ingest(ctx, in.ID, "", []alert.Alert{backendDown(app.Clock.Now(), fp, group, st)})
		}
		const rounds, senders, each = 8, 6, 12
		for r := range rounds {
			group := fmt.Sprintf("g%d", r)
			res, err := send(group+"-first", group, alert.Firing)
			mustDo(t, err)
			if len(res.Opened) != 1 {
				t.Fatalf("round %d: the first alert opened %v", r, res.Opened)
			}
			from := res.Opened[0]
			// Each sender has an alert on the duplicate already, which it
			// resolves and fires again between its new ones.
			for s := range senders {
				_, err := send(fmt.Sprintf("%s-old-%d", group, s), group, alert.Firing)
				mustDo(t, err)
			}
			into := openDraft(t, svc, incident.Draft{Title: "backend outage " + group})
			var wg sync.WaitGroup
			errs := make(chan error, 2*senders*each+1)
			for s := range senders {
				wg.Go(func() {
					old := fmt.Sprintf("%s-old-%d", group, s)
					for i := range each {
						if _, err := send(fmt.Sprintf("%s-%d-%d", group, s, i), group, alert.Firing); err != nil {
							errs <- err
						}
						st := alert.Resolved
						if i%2 == 1 {
							st = alert.Firing
						}
						if _, err := send(old, group, st); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Go(func() {
				time.Sleep(time.Duration(r) * time.Millisecond)
				if _, err := svc.MergeIncident(ctx, service.System, from, into, "the same outage"); err != nil {
					errs <- err
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %d: %v", r, err)
			}
			left, err := svc.IncidentAlerts(ctx, service.System, from)
			mustDo(t, err)
			if len(left) != 0 {
				t.Fatalf("round %d: %d alerts stayed on the merged #%d", r, len(left), from)
			}
			moved, err := svc.IncidentAlerts(ctx, service.System, into)
			mustDo(t, err)
			// Every alert fires at the end: the old ones last fired again.
			want := 1 + senders + senders*each
			if len(moved) != want {
				t.Fatalf("round %d: #%d holds %d alerts, want %d", r, into, len(moved), want)
			}
			for _, n := range []int64{from, into} {
				sum, err := svc.IncidentAlertSummary(ctx, service.System, n)
				mustDo(t, err)
				if n == into && (sum.Attached != int64(want) || sum.Firing != int64(want)) || n == from && (sum.Attached != 0 || sum.Firing != 0) {
					t.Fatalf("round %d: #%d counts %+v", r, n, sum)
				}
			}
		}
	})
}

// Alerts attached by hand while intake resolves them end attached and
// resolved, with the incident's counts to match: neither change undoes
// the other, on either database.
func TestAttachRacingIntake(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		const n = 20
		w.fillInbox(t, n)
		number := openDraft(t, w.svc, incident.Draft{Title: "disks filling up"})
		w.raceResolving(t, n, func(id int64) error {
			_, err := w.svc.AttachAlerts(w.ctx, w.ana, number, []int64{id})
			return err
		})
		list, err := w.svc.IncidentAlerts(w.ctx, w.ana, number)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("#%d holds %d alerts, want %d", number, len(list), n)
		}
		for _, r := range list {
			if r.Status != alert.Resolved {
				t.Fatalf("alert %d: %s, want resolved", r.ID, r.Status)
			}
		}
		sum, err := w.svc.IncidentAlertSummary(w.ctx, w.ana, number)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Attached != n || sum.Firing != 0 {
			t.Fatalf("#%d counts %+v, want %d attached, none firing", number, sum, n)
		}
		if got := w.waiting(t); got != 0 {
			t.Fatalf("%d alerts wait in the inbox, want 0", got)
		}
	})
}
