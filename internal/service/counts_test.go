package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// recount counts from the alerts themselves what intake keeps counted: the
// firing alerts in the inbox, and the attached and firing alerts of each
// incident.
func recount(list []*alert.Record) (inbox int64, want map[int64]service.AlertSummary) {
	want = map[int64]service.AlertSummary{}
	for _, a := range list {
		firing := int64(0)
		if a.Status == alert.Firing {
			firing = 1
		}
		if a.Incident == 0 {
			inbox += firing
			continue
		}
		w := want[a.Incident]
		w.Attached++
		w.Firing += firing
		want[a.Incident] = w
	}
	return inbox, want
}

// groupAlerts builds alerts of one group (alertname group), one per
// instance name, all with status at now.
func groupAlerts(group, severity string, status alert.Status, now time.Time, names ...string) []alert.Alert {
	var alerts []alert.Alert
	for _, n := range names {
		labels := map[string]string{"alertname": group, "instance": n, "severity": severity}
		a := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: status, Labels: labels, StartsAt: now, GroupKey: group}
		if status == alert.Resolved {
			a.EndsAt = now
		}
		alert.Normalize(&a)
		alerts = append(alerts, a)
	}
	return alerts
}

// The counts intake keeps (attached and firing alerts per incident, firing
// alerts in the inbox) and the "alerts resolved — mitigated?" hint read
// from them always equal what the alerts themselves say, through firing,
// resolving, firing again, declaring, attaching and closing.
func TestAlertCountsFollowTheAlerts(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
		svc := service.New(st, service.Options{Now: func() time.Time { return now }})
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		send := func(group string, status alert.Status, severity string, names ...string) *service.IngestResult {
			t.Helper()
			alerts := groupAlerts(group, severity, status, now, names...)
			res, err := svc.Ingest(ctx, in.ID, "", alerts)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// check recounts from the alerts and compares.
		check := func(step string) {
			t.Helper()
			all, err := svc.Alerts(ctx, service.System, service.AlertQuery{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			inbox, want := recount(all)
			var got int64
			if err := st.Read(ctx, func(tx *store.Tx) (err error) { got, err = tx.InboxFiring(ctx); return err }); err != nil {
				t.Fatal(err)
			}
			if got != inbox {
				t.Errorf("%s: inbox count %d, alerts say %d", step, got, inbox)
			}
			for n := int64(1); ; n++ {
				inc, err := svc.Incident(ctx, service.System, n)
				if err != nil {
					break
				}
				sum, err := svc.IncidentAlertSummary(ctx, service.System, n)
				if err != nil {
					t.Fatal(err)
				}
				w := want[n]
				if sum.Attached != w.Attached || sum.Firing != w.Firing {
					t.Errorf("%s: #%d counts %+v, alerts say %+v", step, n, sum, w)
				}
				hint := w.Attached > 0 && w.Firing == 0 && inc.Phase == incident.Active
				if inc.AlertsResolved != hint {
					t.Errorf("%s: #%d hint %v, want %v", step, n, inc.AlertsResolved, hint)
				}
			}
		}
		if res := send("Down", alert.Firing, "critical", "a", "b", "c"); fmt.Sprint(res.Opened) != "[1]" {
			t.Fatalf("opened: %+v", res)
		}
		send("Slow", alert.Firing, "warning", "x", "y")
		check("fired")
		send("Down", alert.Resolved, "critical", "a")
		check("one resolved")
		send("Down", alert.Resolved, "critical", "b", "c")
		check("all resolved")
		if res := send("Down", alert.Firing, "critical", "b"); fmt.Sprint(res.Attached) != "[1]" {
			t.Fatalf("fired again: %+v", res)
		}
		check("one fired again")
		send("Slow", alert.Resolved, "warning", "x")
		check("a warning resolved")
		inbox, err := svc.Alerts(ctx, service.System, service.AlertQuery{Unattached: true, Status: alert.Firing, Limit: 10})
		if err != nil || len(inbox) != 1 {
			t.Fatalf("inbox: %v %v", inbox, err)
		}
		if _, err := svc.DeclareIncident(ctx, service.System, []int64{inbox[0].ID}, incident.Draft{Title: "slow"}); err != nil {
			t.Fatal(err)
		}
		check("declared from the inbox")
		resolvedWarning, err := svc.Alerts(ctx, service.System, service.AlertQuery{Unattached: true, Status: alert.Resolved, Limit: 10})
		if err != nil || len(resolvedWarning) != 1 {
			t.Fatalf("resolved inbox: %v %v", resolvedWarning, err)
		}
		if _, err := svc.AttachAlerts(ctx, service.System, 1, []int64{resolvedWarning[0].ID}); err != nil {
			t.Fatal(err)
		}
		check("attached from the inbox")
		for _, to := range []incident.Phase{incident.Mitigated, incident.Resolved, incident.Closed} {
			if _, err := svc.Transition(ctx, service.System, 1, incident.TransitionRequest{To: to, Note: "done", DetectionImprovement: "alert on it"}); err != nil {
				t.Fatal(err)
			}
		}
		check("closed")
		// An alert of the closed incident fires again: a rule routes it
		// anew, and it leaves the closed incident for a new one.
		if res := send("Down", alert.Firing, "critical", "a"); fmt.Sprint(res.Opened) != "[3]" {
			t.Fatalf("after the close: %+v", res)
		}
		check("fired after the close")
	})
}
