package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// BenchmarkHeartbeats measures a ping (one write transaction) and the
// deadline check when nothing is due (one indexed read), with 2,000
// heartbeats stored, on SQLite:
//
//	go test ./internal/service -run '^$' -bench BenchmarkHeartbeats -benchtime 2000x
func BenchmarkHeartbeats(b *testing.B) {
	ctx := context.Background()
	st := testenv.NewStore(b, store.SQLite)
	clock := testenv.NewClock()
	svc := service.New(st, service.Options{Now: clock.Now})
	keys := make([]string, 2000)
	for i := range keys {
		key, _, err := svc.CreateHeartbeat(ctx, service.System, service.NewHeartbeat{Name: fmt.Sprintf("job-%04d", i), Period: "1h"})
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = key
	}
	clock.Advance(30 * time.Minute)
	b.Run("ping", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := svc.PingHeartbeat(ctx, keys[i%len(keys)], heartbeat.Success, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check-none-due", func(b *testing.B) {
		for b.Loop() {
			if n, err := svc.CheckHeartbeats(ctx); err != nil || n != 0 {
				b.Fatal(n, err)
			}
		}
	})
}
