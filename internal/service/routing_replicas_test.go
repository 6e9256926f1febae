package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// Intake on PostgreSQL keeps the routing rules and snoozes in memory per
// replica, under a version the database counts: a rule or snooze changed
// on one replica routes the next delivery on another at once, though
// that one routed by the old ones just before (and kept them). On SQLite
// the same steps run on one store.
func TestRoutingChangesReachEveryReplica(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		a, b := app.Svc, secondReplica(t, app)
		_, in, err := a.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		// send posts one new critical alert of a new group to b.
		send := func(name string) *service.IngestResult {
			t.Helper()
			n++
			labels := map[string]string{"alertname": name, "instance": fmt.Sprint("host-", n), "severity": "critical"}
			al := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels,
				StartsAt: app.Clock.Now(), GroupKey: fmt.Sprint(name, n)}
			alert.Normalize(&al)
			res, err := b.Ingest(ctx, in.ID, "", []alert.Alert{al})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := send("Down"); len(res.Opened) != 1 {
			t.Fatalf("before any change: %+v, want an incident opened", res)
		}
		// A snooze made on a: b keeps the alert in the inbox.
		sn, err := a.CreateSnooze(ctx, service.System, service.NewSnooze{Matchers: `alertname="Down"`, For: time.Hour, Reason: "maintenance"})
		if err != nil {
			t.Fatal(err)
		}
		if res := send("Down"); len(res.Opened) != 0 || res.Snoozed != 1 {
			t.Fatalf("after the snooze: %+v, want it snoozed", res)
		}
		if res := send("Other"); len(res.Opened) != 1 {
			t.Fatalf("another alert name: %+v, want an incident", res)
		}
		// The snooze ended on a: b opens incidents again.
		if err := a.DeleteSnooze(ctx, service.System, sn.ID); err != nil {
			t.Fatal(err)
		}
		if res := send("Down"); len(res.Opened) != 1 || res.Snoozed != 0 {
			t.Fatalf("after the snooze ended: %+v, want an incident", res)
		}
		// A rule made on a that keeps critical alerts in the inbox.
		r, err := a.CreateRule(ctx, service.System, service.NewRule{Name: "quiet", Position: 1, Matchers: `severity="critical"`, Action: alert.ActionInbox})
		if err != nil {
			t.Fatal(err)
		}
		if res := send("Down"); len(res.Opened) != 0 {
			t.Fatalf("after the inbox rule: %+v, want the inbox", res)
		}
		if err := a.DeleteRule(ctx, service.System, r.ID); err != nil {
			t.Fatal(err)
		}
		if res := send("Down"); len(res.Opened) != 1 {
			t.Fatalf("after the rule went: %+v, want an incident", res)
		}
	})
}
