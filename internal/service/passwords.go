package service

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
)

// Every password hash and check in Quench goes through one gate. An
// argon2id hash holds its memory (19 MiB) for its whole computation, and
// anyone may ask for one by trying to sign in, so without a bound a few
// hundred anonymous attempts at once take the server's memory with them.
// As many hashes run at once as there are CPUs (more would only share
// them), a few more wait their turn, and anyone beyond that is told at once
// to come back: a 503 with Retry-After costs nothing.

// hashQueuePerCPU is how many callers may wait per running hash: each
// waits for at most a few hashes' time (tens of milliseconds apiece).
const hashQueuePerCPU = 4

// trimAfter is how long hashing must pause before the memory it used is
// handed back to the operating system, so a burst of sign-ins does not
// leave the idle server holding its peak.
const trimAfter = 2 * time.Second

var errHashBusy = problem.New(problem.Unavailable, "busy",
	"the server is busy checking passwords; try again in a moment").With("retry_after", 1)

// gate bounds concurrent password hashing: slots run, queue more wait.
type gate struct {
	slots chan struct{}
	queue int

	mu      sync.Mutex
	waiting int
	trim    *time.Timer // pending release of memory, nil if none
}

func newGate(slots, queue int) *gate {
	return &gate{slots: make(chan struct{}, slots), queue: queue}
}

// enter takes a slot, waiting in the queue if there is room in it; the
// caller must call leave once done.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.mu.Lock()
	if g.waiting >= g.queue {
		g.mu.Unlock()
		return errHashBusy
	}
	g.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return problem.Wrap(problem.Unavailable, "unavailable", ctx.Err(), "the request was cancelled")
	}
}

// leave frees a slot. When hashing pauses, the memory the hashes used is
// returned to the operating system shortly after, unless hashing resumed.
func (g *gate) leave() {
	<-g.slots
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.slots) > 0 || g.waiting > 0 || g.trim != nil {
		return
	}
	g.trim = time.AfterFunc(trimAfter, func() {
		g.mu.Lock()
		g.trim = nil
		busy := len(g.slots) > 0 || g.waiting > 0
		g.mu.Unlock()
		if !busy {
			debug.FreeOSMemory()
		}
	})
}

// hashPassword hashes a new password for storage.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.hashing.enter(ctx); err != nil {
		return "", err
	}
	defer s.hashing.leave()
	return s.hasher.Hash(pw), nil
}

// checkPassword verifies pw against hash (empty: the account does not
// exist, pw is checked against a dummy hash and never matches); when it
// matches and hash was made with other parameters than today's, fresh is a
// new hash to store.
func (s *Service) checkPassword(ctx context.Context, hash, pw string) (ok bool, fresh string, err error) {
	if err := s.hashing.enter(ctx); err != nil {
		return false, "", err
	}
	defer s.hashing.leave()
	if hash == "" {
		auth.VerifyPassword(s.dummy(), pw)
		return false, "", nil
	}
	if !auth.VerifyPassword(hash, pw) {
		return false, "", nil
	}
	if s.hasher.Outdated(hash) {
		fresh = s.hasher.Hash(pw)
	}
	return true, fresh, nil
}

// dummy is the hash checked when a user does not exist, made with today's
// parameters so an unknown name costs exactly what a wrong password does.
// It is made on first use, with a slot of the gate held.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() { s.dummyHash = s.hasher.Hash(auth.NewSecret("")) })
	return s.dummyHash
}
