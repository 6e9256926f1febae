package jobs_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Three replicas run the same leased job loop: only one runs it, never
// two at once, and when that one stops another takes the job over.
func TestLeasedJobRunsOnOneReplica(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		log := slog.New(slog.DiscardHandler)
		var running, overlap atomic.Int32
		var mu sync.Mutex
		runs := map[int]int{}
		ctxs := make([]context.CancelFunc, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			// Each replica its own service and leases, as separate
			// processes have.
			leases := jobs.NewLeases(service.New(st, service.Options{}), log)
			ctx, cancel := context.WithCancel(context.Background())
			ctxs[i] = cancel
			wg.Go(func() {
				leases.Run(ctx, "job", 10*time.Millisecond, func(context.Context) error {
					if running.Add(1) > 1 {
						overlap.Add(1)
					}
					time.Sleep(time.Millisecond)
					running.Add(-1)
					mu.Lock()
					runs[i]++
					mu.Unlock()
					return nil
				})
			})
		}
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting until %s", what)
				}
			}
		}
		total := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, r := range runs {
				n += r
			}
			return n
		}
		waitFor("ten runs", func() bool { return total() >= 10 })
		mu.Lock()
		leader := -1
		for i, r := range runs {
			if r > 0 {
				if leader >= 0 {
					t.Errorf("replicas %d and %d both ran the job: %v", leader, i, runs)
				}
				leader = i
			}
		}
		mu.Unlock()
		ctxs[leader]() // the leader stops and gives its lease up
		waitFor("another replica takes over", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i, r := range runs {
				if i != leader && r > 0 {
					return true
				}
			}
			return false
		})
		for _, c := range ctxs {
			c()
		}
		wg.Wait()
		if n := overlap.Load(); n > 0 {
			t.Errorf("the job ran on two replicas at once %d time(s)", n)
		}
	})
}
