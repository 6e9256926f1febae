package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The background job fires a heartbeat whose deadline passed, on its
// own: the deadline is read from the database at each check.
func TestHeartbeatJobFiresMisses(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		clock := testenv.NewClock()
		svc := service.New(st, service.Options{Now: clock.Now})
		if _, _, err := svc.CreateHeartbeat(ctx, service.System, service.NewHeartbeat{Name: "etl", Period: "1m", Grace: "0s"}); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			jobs.Heartbeats(ctx, svc, slog.New(slog.DiscardHandler), 5*time.Millisecond)
		}()
		clock.Advance(time.Minute)
		deadline := time.Now().Add(10 * time.Second)
		for {
			list, err := svc.Alerts(ctx, service.System, service.AlertQuery{Integration: heartbeat.Integration, Status: alert.Firing})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) == 1 && list[0].Labels["alertname"] == heartbeat.AlertMissed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the job fired nothing: %d alerts", len(list))
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
	})
}
