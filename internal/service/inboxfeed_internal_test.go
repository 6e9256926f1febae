package service

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The inbox pacer turns any number of pokes into at most one call per
// inboxPace, the first at once after a quiet spell and one more after a
// burst, so a live page always hears of the last change: a storm of
// 10,000 changes over two seconds makes at most nine calls.
func TestInboxPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		p := &pacer{every: inboxPace, fn: func() { calls.Add(1) }}
		p.poke()
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("a first poke made %d calls, want 1 at once", n)
		}
		// A burst right after: one more call, once the pace allows.
		for range 1000 {
			p.poke()
		}
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("a burst within the pace called at once: %d calls", n)
		}
		time.Sleep(inboxPace)
		synctest.Wait()
		if n := calls.Load(); n != 2 {
			t.Fatalf("after the pace: %d calls, want 2", n)
		}
		// A storm: 10,000 pokes over two seconds.
		calls.Store(0)
		for range 10000 {
			p.poke()
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(inboxPace)
		synctest.Wait()
		if n := calls.Load(); n < 2 || n > 9 {
			t.Fatalf("a two-second storm made %d calls, want 2 to 9", n)
		}
		// Quiet again: nothing more happens by itself.
		before := calls.Load()
		time.Sleep(10 * inboxPace)
		synctest.Wait()
		if n := calls.Load(); n != before {
			t.Fatalf("%d calls while quiet", n-before)
		}
	})
}
