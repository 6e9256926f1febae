package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// triageWorld is a service on a fresh store with a fake clock, an
// Alertmanager integration and a responder.
type triageWorld struct {
	ctx   context.Context
	svc   *service.Service
	clock *testenv.Clock
	in    string
	ana   auth.Principal
}

func newTriageWorld(t *testing.T, st *store.Store) *triageWorld {
	w := &triageWorld{ctx: context.Background(), clock: testenv.NewClock()}
	w.svc = service.New(st, service.Options{Now: w.clock.Now})
	_, in, err := w.svc.CreateIntegration(w.ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	w.in = in.ID
	u, err := w.svc.CreateUser(w.ctx, service.System, service.NewUser{Username: "ana", Role: auth.RoleResponder, Password: "password-ana-1"})
	if err != nil {
		t.Fatal(err)
	}
	w.ana = auth.Principal{User: u}
	return w
}

// fillInbox sends n firing warnings (DiskFull on db-0 … db-n-1), which
// the default rules keep in the inbox, in that order.
func (w *triageWorld) fillInbox(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		w.send(t, "DiskFull", fmt.Sprintf("db-%d", i), "warning", alert.Firing)
	}
}

// send delivers one alert; the default rules open an incident for a
// critical one and keep a warning in the inbox.
func (w *triageWorld) send(t *testing.T, name, instance, severity string, st alert.Status, extra ...alert.Link) *service.IngestResult {
	t.Helper()
	labels := map[string]string{"alertname": name, "instance": instance, "severity": severity}
	a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: st, Labels: labels, Annotations: map[string]string{"summary": name + " on " + instance},
		StartsAt: w.clock.Now().Add(-time.Minute), GroupKey: "{}:{alertname=\"" + name + "\"}", Title: name, Links: extra}
	if st == alert.Resolved {
		a.EndsAt = w.clock.Now()
	}
	res, err := w.svc.Ingest(w.ctx, w.in, "", []alert.Alert{a})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// raceResolving runs change on each of the alerts DiskFull on db-0 …
// db-(n-1), each at the same time as intake resolves that alert, and
// waits for all of them; any error fails the test.
func (w *triageWorld) raceResolving(t *testing.T, n int, change func(id int64) error) {
	t.Helper()
	errs := make(chan error, 2*n)
	for i := range n {
		id := w.idOf(t, fmt.Sprintf("db-%d", i))
		labels := map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("db-%d", i), "severity": "warning"}
		go func() { errs <- change(id) }()
		go func() {
			_, err := w.svc.Ingest(w.ctx, w.in, "", []alert.Alert{{Fingerprint: alert.Fingerprint(labels), Status: alert.Resolved, Labels: labels,
				Annotations: map[string]string{}, StartsAt: w.clock.Now().Add(-time.Minute), EndsAt: w.clock.Now(), Title: "DiskFull"}})
			errs <- err
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func (w *triageWorld) inbox(t *testing.T, d service.Dismissed) []string {
	t.Helper()
	list, err := w.svc.Alerts(w.ctx, w.ana, service.AlertQuery{Dismissed: d})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range list {
		out = append(out, r.Labels["instance"])
	}
	slices.Sort(out)
	return out
}

func (w *triageWorld) waiting(t *testing.T) int64 {
	t.Helper()
	n, err := w.svc.InboxWaiting(w.ctx, w.ana)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *triageWorld) idOf(t *testing.T, instance string) int64 {
	t.Helper()
	list, err := w.svc.Alerts(w.ctx, w.ana, service.AlertQuery{Dismissed: service.AnyDismissed})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		if r.Labels["instance"] == instance {
			return r.ID
		}
	}
	t.Fatalf("no alert of %s", instance)
	return 0
}

func (w *triageWorld) auditActions(t *testing.T) []string {
	t.Helper()
	list, err := w.svc.Audit(w.ctx, service.System, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Actor+":"+e.Action)
	}
	return out
}

// A dismissed alert leaves the default view and the inbox count; re-sent
// while firing, and after it resolves, it stays out; when it fires again
// it is back, its dismissal gone. Acknowledging records an owner and a
// time, and both acts are audited.
func TestDismissHidesUntilFiresAgain(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		w.send(t, "DiskFull", "db-1", "warning", alert.Firing)
		w.send(t, "DiskFull", "db-2", "warning", alert.Firing)
		if got := w.inbox(t, service.HideDismissed); fmt.Sprint(got) != "[db-1 db-2]" || w.waiting(t) != 2 {
			t.Fatalf("inbox %v, %d waiting", got, w.waiting(t))
		}
		id1, id2 := w.idOf(t, "db-1"), w.idOf(t, "db-2")

		if _, err := w.svc.DismissAlerts(w.ctx, w.ana, []int64{id1}, ""); problemCode(err) != "unprocessable" {
			t.Fatalf("dismiss without a reason: %v", err)
		}
		if _, err := w.svc.DismissAlerts(w.ctx, w.ana, []int64{id1, 9999}, "noise"); problemCode(err) != "not_found" {
			t.Fatalf("dismiss of a missing alert: %v", err)
		}
		if got := w.inbox(t, service.HideDismissed); fmt.Sprint(got) != "[db-1 db-2]" {
			t.Fatalf("a refused dismissal changed the inbox: %v", got)
		}
		w.clock.Advance(time.Minute)
		acked, err := w.svc.AckAlerts(w.ctx, w.ana, []int64{id2})
		if err != nil || len(acked) != 1 || acked[0].AckedBy != "ana" || !acked[0].AckedAt.Equal(w.clock.Now()) {
			t.Fatalf("ack: %v %+v", err, acked)
		}
		list, err := w.svc.DismissAlerts(w.ctx, w.ana, []int64{id1}, "known flapping disk")
		if err != nil || list[0].DismissedBy != "ana" || list[0].DismissReason != "known flapping disk" {
			t.Fatalf("dismiss: %v %+v", err, list)
		}
		check := func(step, want string, waiting int64) {
			t.Helper()
			if got := fmt.Sprint(w.inbox(t, service.HideDismissed)); got != want || w.waiting(t) != waiting {
				t.Fatalf("%s: default view %s, %d waiting; want %s, %d", step, got, w.waiting(t), want, waiting)
			}
		}
		check("dismissed", "[db-2]", 1)
		if got := w.inbox(t, service.OnlyDismissed); fmt.Sprint(got) != "[db-1]" {
			t.Fatalf("dismissed view: %v", got)
		}
		w.send(t, "DiskFull", "db-1", "warning", alert.Firing)
		check("re-sent while firing", "[db-2]", 1)
		w.send(t, "DiskFull", "db-1", "warning", alert.Resolved)
		check("resolved", "[db-2]", 1)
		w.send(t, "DiskFull", "db-1", "warning", alert.Firing)
		check("fired again", "[db-1 db-2]", 2)
		list, err = w.svc.Alerts(w.ctx, w.ana, service.AlertQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			if r.ID == id1 && (r.Dismissed() || r.DismissReason != "") {
				t.Fatalf("dismissal kept after firing again: %+v", r.Triage)
			}
			if r.ID == id2 && r.AckedBy != "ana" {
				t.Fatalf("acknowledgement lost: %+v", r.Triage)
			}
		}
		actions := w.auditActions(t)
		for _, want := range []string{"ana:alerts_acknowledged", "ana:alerts_dismissed"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit log %v lacks %s", actions, want)
			}
		}
	})
}

// An alert in an open incident is part of an incident: it cannot be
// dismissed.
func TestDismissRefusesAttachedAlerts(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		if res := w.send(t, "BackendDown", "api-1", "critical", alert.Firing); len(res.Opened) != 1 {
			t.Fatalf("no incident opened: %+v", res)
		}
		_, err := w.svc.DismissAlerts(w.ctx, w.ana, []int64{w.idOf(t, "api-1")}, "noise")
		if problemCode(err) != "conflict" {
			t.Fatalf("dismissing an attached alert: %v", err)
		}
	})
}

// While a snooze holds, new matching alerts that the rules would open an
// incident for (or attach to one) stay in the inbox; others still open
// incidents; after the snooze ends, by time or removal, matching alerts
// open incidents again.
func TestSnoozeKeepsNewAlertsInTheInbox(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		if _, err := w.svc.CreateSnooze(w.ctx, w.ana, service.NewSnooze{Matchers: "", For: time.Hour}); problemCode(err) != "unprocessable" {
			t.Fatalf("snooze without matchers: %v", err)
		}
		if _, err := w.svc.CreateSnooze(w.ctx, w.ana, service.NewSnooze{Matchers: `alertname="DiskFull"`, For: time.Second}); problemCode(err) != "unprocessable" {
			t.Fatalf("snooze of a second: %v", err)
		}
		sn, err := w.svc.CreateSnooze(w.ctx, w.ana, service.NewSnooze{Matchers: `alertname="DiskFull"`, For: time.Hour, Reason: "maintenance"})
		if err != nil {
			t.Fatal(err)
		}
		res := w.send(t, "DiskFull", "db-1", "critical", alert.Firing)
		if len(res.Opened) != 0 || len(res.Attached) != 0 || res.Snoozed != 1 {
			t.Fatalf("snoozed alert routed: %+v", res)
		}
		if res := w.send(t, "BackendDown", "api-1", "critical", alert.Firing); len(res.Opened) != 1 {
			t.Fatalf("an alert the snooze does not match opened nothing: %+v", res)
		}
		// Another alert of an open incident's group: attaching is
		// overridden too.
		w.send(t, "BackendDown", "api-1", "critical", alert.Resolved)
		sn2, err := w.svc.CreateSnooze(w.ctx, w.ana, service.NewSnooze{Matchers: `alertname="BackendDown", instance="api-2"`, For: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if res := w.send(t, "BackendDown", "api-2", "critical", alert.Firing); len(res.Attached) != 0 || res.Snoozed != 1 {
			t.Fatalf("snoozed alert joined an incident: %+v", res)
		}
		list, err := w.svc.Snoozes(w.ctx, w.ana)
		if err != nil || len(list) != 2 || list[0].ID != sn2.ID || list[1].ID != sn.ID {
			t.Fatalf("snoozes: %v %+v", err, list)
		}
		if got := w.inbox(t, service.HideDismissed); !slices.Contains(got, "db-1") || !slices.Contains(got, "api-2") {
			t.Fatalf("snoozed alerts not in the inbox: %v", got)
		}

		w.clock.Advance(30 * time.Minute) // sn2 has ended, sn holds
		if res := w.send(t, "BackendDown", "api-3", "critical", alert.Firing); fmt.Sprint(res.Attached) != "[1]" {
			t.Fatalf("after its snooze ended, an alert did not join its group's incident: %+v", res)
		}
		if res := w.send(t, "DiskFull", "db-2", "critical", alert.Firing); len(res.Opened) != 0 || res.Snoozed != 1 {
			t.Fatalf("snooze stopped holding early: %+v", res)
		}
		if list, _ := w.svc.Snoozes(w.ctx, w.ana); len(list) != 1 {
			t.Fatalf("an ended snooze is still listed: %+v", list)
		}
		w.clock.Advance(31 * time.Minute) // sn has ended
		if res := w.send(t, "DiskFull", "db-3", "critical", alert.Firing); len(res.Opened) != 1 || res.Snoozed != 0 {
			t.Fatalf("after the snooze ended, a new alert opened nothing: %+v", res)
		}

		// Removing a snooze ends it at once.
		sn3, err := w.svc.CreateSnooze(w.ctx, w.ana, service.NewSnooze{Matchers: `alertname="CPUHot"`, For: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if res := w.send(t, "CPUHot", "web-1", "critical", alert.Firing); len(res.Opened) != 0 {
			t.Fatalf("snoozed alert opened an incident: %+v", res)
		}
		if err := w.svc.DeleteSnooze(w.ctx, w.ana, sn3.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.DeleteSnooze(w.ctx, w.ana, sn3.ID); problemCode(err) != "not_found" {
			t.Fatalf("removing it twice: %v", err)
		}
		if res := w.send(t, "CPUHot", "web-2", "critical", alert.Firing); len(res.Opened) != 1 {
			t.Fatalf("after removal, a new alert opened nothing: %+v", res)
		}
		actions := w.auditActions(t)
		for _, want := range []string{"ana:snooze_created", "ana:snooze_removed"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit log %v lacks %s", actions, want)
			}
		}
	})
}

// Triage is the team's: viewers are refused and nothing changes.
func TestTriageRefusesViewers(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		w.send(t, "DiskFull", "db-1", "warning", alert.Firing)
		id := w.idOf(t, "db-1")
		anon := auth.Principal{}
		if _, err := w.svc.AckAlerts(w.ctx, anon, []int64{id}); err == nil {
			t.Error("anonymous acknowledged")
		}
		if _, err := w.svc.DismissAlerts(w.ctx, anon, []int64{id}, "x"); err == nil {
			t.Error("anonymous dismissed")
		}
		if _, err := w.svc.CreateSnooze(w.ctx, anon, service.NewSnooze{Matchers: `a="b"`, For: time.Hour}); err == nil {
			t.Error("anonymous snoozed")
		}
		if got := w.inbox(t, service.HideDismissed); fmt.Sprint(got) != "[db-1]" {
			t.Fatalf("inbox changed: %v", got)
		}
	})
}

// A runbook_url becomes an internal runbook link of the incident its alert
// joins, once per URL; viewers do not see it.
func TestRunbookBecomesIncidentLink(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		rb := alert.Link{Kind: alert.LinkRunbook, URL: "https://runbooks.example.com/backend-down"}
		if res := w.send(t, "BackendDown", "api-1", "critical", alert.Firing, rb); len(res.Opened) != 1 {
			t.Fatalf("no incident: %+v", res)
		}
		w.send(t, "BackendDown", "api-2", "critical", alert.Firing, rb)
		w.send(t, "BackendDown", "api-3", "critical", alert.Firing, alert.Link{Kind: alert.LinkRunbook, URL: "https://runbooks.example.com/other"})
		links, err := w.svc.Links(w.ctx, w.ana, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range links {
			if l.Kind != incident.LinkRunbook || l.Visibility != incident.Internal {
				t.Errorf("link %+v: want an internal runbook link", l)
			}
			got = append(got, l.URL)
		}
		if fmt.Sprint(got) != "[https://runbooks.example.com/backend-down https://runbooks.example.com/other]" {
			t.Fatalf("links %v", got)
		}
		// The incident is public and the instance lets viewers read.
		viewer, err := w.svc.Links(w.ctx, auth.Principal{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(viewer) != 0 {
			t.Fatalf("a viewer sees alert links: %+v", viewer)
		}
	})
}

func problemCode(err error) string {
	pr, ok := problem.As(err)
	if !ok {
		return fmt.Sprint(err)
	}
	switch pr.Kind {
	case problem.Unprocessable:
		return "unprocessable"
	case problem.NotFound:
		return "not_found"
	case problem.Conflict:
		return "conflict"
	}
	return pr.Code
}

// Dismissals racing deliveries that resolve the same alerts: every
// dismissal holds, and the inbox count matches the alerts (on PostgreSQL
// both run at once; triage locks the integration as intake does).
func TestDismissRacingIntake(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		w := newTriageWorld(t, st)
		const n = 20
		w.fillInbox(t, n)
		w.raceResolving(t, n, func(id int64) error {
			_, err := w.svc.DismissAlerts(w.ctx, w.ana, []int64{id}, "noise")
			return err
		})
		list, err := w.svc.Alerts(w.ctx, w.ana, service.AlertQuery{Dismissed: service.OnlyDismissed})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("%d of %d dismissals held", len(list), n)
		}
		for _, r := range list {
			if r.Status != alert.Resolved {
				t.Fatalf("alert %d: %s, want resolved", r.ID, r.Status)
			}
		}
		if got := w.waiting(t); got != 0 {
			t.Fatalf("%d alerts wait in the inbox, want 0", got)
		}
	})
}
