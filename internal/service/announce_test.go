package service_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// On PostgreSQL the changes a delivery makes to incidents are announced
// by the delivery's own transaction: replica B hears them though replica
// A's announcer does not run. When PostgreSQL's notification queue is too
// full for that (forced here), the transaction announces nothing and A's
// announcer sends them after the commit: B hears them once it runs.
func TestIntakeAnnouncedWithItsCommit(t *testing.T) {
	if !slices.Contains(testenv.Dialects(t), store.Postgres) {
		t.Skip("replicas need PostgreSQL (QUENCH_TEST_POSTGRES_URL)")
	}
	app := testenv.StartApp(t, store.Postgres)
	ctx := context.Background()
	a, b := app.Svc, secondReplica(t, app)
	a.EnableChangeFeed()
	heard := make(chan service.Change, 1000)
	cancel := b.Subscribe(func(c service.Change) {
		select {
		case heard <- c:
		default:
		}
	})
	defer cancel()
	feedCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	wg.Go(func() { b.RunChangeFeed(feedCtx) })
	testenv.WaitListening(t, app.StoreOptions.URL, 1)

	_, in, err := a.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(instance string) {
		t.Helper()
		labels := map[string]string{"alertname": "Down", "instance": instance, "severity": "critical"}
		al := alert.Alert{Fingerprint: alert.Fingerprint(labels), Status: alert.Firing, Labels: labels, StartsAt: app.Clock.Now(), GroupKey: "Down"}
		alert.Normalize(&al)
		res, err := a.Ingest(ctx, in.ID, "", []alert.Alert{al})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Opened)+len(res.Attached) == 0 {
			t.Fatalf("delivery of %s: %+v, want it opened or joined an incident", instance, res)
		}
	}
	attached := service.Change{Incident: 1, Kind: incident.EventAlertAttached}
	hear := func(want service.Change, within time.Duration) bool {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case c := <-heard:
				if c.Incident == want.Incident && c.Kind == want.Kind {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}

	deliver("a")
	if !hear(attached, 10*time.Second) {
		t.Fatal("B did not hear the delivery's change on A, whose transaction should have announced it")
	}

	restore := service.SetTxAnnounceBelow(0)
	defer restore()
	deliver("b")
	if hear(attached, 500*time.Millisecond) {
		t.Fatal("B heard a change that A's transaction should have left to A's announcer, which does not run")
	}
	wg.Go(func() { a.RunChangeFeed(feedCtx) })
	if !hear(attached, 10*time.Second) {
		t.Fatal("B did not hear the change that A's announcer should have sent after the commit")
	}
}
