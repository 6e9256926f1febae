package service

import (
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// ChangeInbox is the kind of a change that names no incident: alerts
// reached or left the inbox (or their triage changed), so the inbox count
// and the inbox page may be stale. Only the team hears it.
const ChangeInbox incident.EventKind = "inbox"

// inboxPace is the least time between two inbox changes: a storm posts
// thousands of alerts a second, and live pages need to hear of them a few
// times a second at most.
const inboxPace = 250 * time.Millisecond

// pacer calls fn after poke, at most once per every: the first poke after
// a quiet spell calls it at once (on its own goroutine), pokes within
// every of a call make one more call when every has passed. A poke costs
// a lock and, at most once per every, a timer, whatever the rate.
type pacer struct {
	every time.Duration
	fn    func()

	mu    sync.Mutex
	armed bool      // a call is scheduled and has not started yet
	last  time.Time // when the last call started
}

func (p *pacer) poke() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed {
		return
	}
	p.armed = true
	wait := max(p.every-time.Since(p.last), 0)
	time.AfterFunc(wait, func() {
		p.mu.Lock()
		p.armed, p.last = false, time.Now()
		p.mu.Unlock()
		p.fn()
	})
}

// inboxMoved tells live pages, paced, that the inbox changed.
func (s *Service) inboxMoved() { s.inbox.poke() }
