package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// On PostgreSQL the outbox worker looks through the outbox when this
// replica committed messages, not after every change: most of an alert
// storm's transactions queue none, and each look is a query. (On SQLite
// the writer hands queued messages over instead: FreshWake.)
func TestOutboxWokenOnlyByQueuedMessages(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := service.New(st, service.Options{Guard: testenv.LoopbackGuard()})
		if st.Dialect() == store.SQLite {
			if svc.QueuedWake() != nil {
				t.Fatal("QueuedWake on SQLite, whose writer hands messages over")
			}
			return
		}
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "storm"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		fire := func(group string) {
			t.Helper()
			n++
			if _, err := svc.Ingest(ctx, in.ID, "", groupAlerts(group, "critical", alert.Firing, time.Now().UTC(), fmt.Sprint(n))); err != nil {
				t.Fatal(err)
			}
		}
		woken := func() bool {
			select {
			case <-svc.QueuedWake():
				return true
			default:
				return false
			}
		}
		woken()
		// No channel: an incident opens and alerts join it, nothing is queued.
		fire("g1")
		fire("g1")
		if woken() {
			t.Fatal("the worker was woken by changes that queued no message")
		}
		p := func(s string) *string { return &s }
		if _, _, err := svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: p("webhook"), Name: p("ops"),
			URL: p("http://127.0.0.1:9/hook"), Audience: p("team"), Events: &[]string{"incident.opened"}}); err != nil {
			t.Fatal(err)
		}
		woken()
		fire("g1") // joins the open incident: the channel wants only incident.opened
		if woken() {
			t.Fatal("woken by an alert that queued no message")
		}
		fire("g2") // opens an incident: incident.opened is queued
		if !woken() {
			t.Fatal("not woken after a commit that queued a message")
		}
	})
}
