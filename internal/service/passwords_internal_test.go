package service

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/quenchhq/quench/internal/problem"
)

// The gate lets slots callers in, queues queue more, and refuses the rest
// at once with a 503 that says when to retry.
func TestGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate(2, 1)
		ctx := context.Background()
		for range 2 {
			if err := g.enter(ctx); err != nil {
				t.Fatalf("free slot: %v", err)
			}
		}
		queued := make(chan error, 1)
		go func() { queued <- g.enter(ctx) }()
		synctest.Wait() // the third caller waits in the queue
		select {
		case err := <-queued:
			t.Fatalf("queued caller got through a full gate: %v", err)
		default:
		}
		err := g.enter(ctx)
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Unavailable || p.Code != "busy" || p.Detail["retry_after"] != 1 {
			t.Fatalf("caller beyond the queue: %v", err)
		}
		g.leave()
		if err := <-queued; err != nil {
			t.Fatalf("queued caller after a slot freed: %v", err)
		}
		// A waiter whose request ends leaves the queue with a 503.
		cctx, cancel := context.WithCancel(ctx)
		go func() { queued <- g.enter(cctx) }()
		synctest.Wait()
		cancel()
		if p, ok := problem.As(<-queued); !ok || p.Kind != problem.Unavailable {
			t.Fatalf("cancelled waiter: %v", p)
		}
		g.leave()
		g.leave()
		if len(g.slots) != 0 || g.waiting != 0 {
			t.Fatalf("gate not empty: %d running, %d waiting", len(g.slots), g.waiting)
		}
	})
}
