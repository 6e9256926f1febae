package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// streamTick paces the live stream: a keep-alive for proxies and a fresh
// look at the viewer's session, so a stream ends within this long of a
// sign-out even when nothing changes.
const streamTick = 25 * time.Second

// events streams committed changes as server-sent events, so boards and
// incident pages refresh when anyone changes an incident or an alert
// arrives. Viewers only hear of changes to public incidents, and only the
// incident number and kind: pages fetch what changed under their own
// permissions.
//
// A stream lives for hours, far past the request that authenticated it, so
// a signed-in stream asks again whether its session or token still holds
// before every event and on every tick, and ends when it does not: a
// revoked session, a disabled user or an expired login stop hearing of
// the team's incidents at once.
func (w *Web) events(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p.IsAnonymous() && !w.svc.PublicViewing() {
		w.fail(rw, r, errSignIn)
		return
	}
	var team atomic.Bool
	team.Store(p.Can(auth.ReadAll))
	rc := http.NewResponseController(rw)
	// The stream outlives the server's write timeout.
	rc.SetWriteDeadline(time.Time{})
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	changes := make(chan service.Change, streamBuffer)
	// missed is set when a change did not fit: the stream then tells the
	// page to look again at everything.
	var missed atomic.Bool
	cancel := w.svc.Subscribe(func(c service.Change) {
		if !c.Public && !team.Load() {
			return
		}
		select {
		case changes <- c:
		default: // a slow reader misses events, never blocks writers
			missed.Store(true)
		}
	})
	defer cancel()
	tick, stop := w.ticker(streamTick)
	defer stop()
	// The opening goes out after subscribing: a client that has read it
	// hears of every later change.
	fmt.Fprint(rw, "retry: 3000\n\n")
	rc.Flush()
	// recheck looks again at a signed-in viewer's session or token: ended
	// means it no longer holds and the stream closes; an error means no
	// answer (the database is unavailable), so nothing is sent until a
	// later look succeeds.
	recheck := func() (ended bool, err error) {
		if p.IsAnonymous() {
			return false, nil
		}
		fresh, err := w.svc.Recheck(r.Context(), p)
		if pr, ok := problem.As(err); ok && pr.Kind == problem.Unauthenticated {
			return true, err
		}
		if err != nil {
			if r.Context().Err() == nil {
				w.log.Warn("live stream: session not rechecked", "err", err)
			}
			return false, err
		}
		p = fresh
		team.Store(p.Can(auth.ReadAll))
		return false, nil
	}
	// owed holds the changes that arrived while the session could not be
	// looked at (the database was unavailable): they go out once a look
	// succeeds, tried again every recheckRetry, so a page misses nothing
	// a brief outage hid. Past maxOwed they become one resync.
	var owed []service.Change
	var retry <-chan time.Time
	send := func(c service.Change) {
		if !c.Public && !team.Load() {
			return
		}
		if c.Kind == service.ChangeInbox {
			// The count, read under the viewer's permissions: the
			// board's header shows it without fetching the page.
			n, err := w.svc.InboxWaiting(r.Context(), p)
			if err != nil {
				return
			}
			fmt.Fprintf(rw, "event: inbox\ndata: {\"waiting\":%d}\n\n", n)
			return
		}
		b, _ := json.Marshal(map[string]any{"incident": c.Incident, "kind": c.Kind})
		fmt.Fprintf(rw, "event: change\ndata: %s\n\n", b)
	}
	// sendAll sends a burst, the inbox's count once whatever the number
	// of inbox changes in it.
	sendAll := func(cs []service.Change) {
		inbox := false
		for _, c := range cs {
			if c.Kind == service.ChangeInbox {
				if inbox {
					continue
				}
				inbox = true
			}
			send(c)
		}
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-w.closing:
			return
		case <-tick:
			if ended, _ := recheck(); ended {
				return
			}
			fmt.Fprint(rw, ": ping\n\n")
		case <-retry:
			retry = nil
			ended, err := recheck()
			if ended {
				return
			}
			if err != nil {
				retry = time.After(recheckRetry)
				continue
			}
			sendAll(owed)
			owed = nil
		case c := <-changes:
			// What queued up meanwhile goes out after the same look at
			// the session: one look per burst, not per change, so a
			// stream keeps up with a busy instance.
			batch := []service.Change{c}
			for len(batch) < streamBuffer {
				select {
				case c := <-changes:
					batch = append(batch, c)
					continue
				default:
				}
				break
			}
			if missed.Swap(false) {
				batch = append(batch, service.Change{Kind: service.ChangeResync, Public: true})
			}
			ended, err := recheck()
			if ended {
				return
			}
			if err != nil {
				owed = append(owed, batch...)
				if len(owed) > maxOwed {
					owed = []service.Change{{Kind: service.ChangeResync, Public: true}}
				}
				if retry == nil {
					retry = time.After(recheckRetry)
				}
				continue
			}
			sendAll(append(owed, batch...))
			owed = nil
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

const (
	// recheckRetry is how soon a stream whose session could not be looked
	// at tries again, to send what it owes.
	recheckRetry = time.Second
	// maxOwed bounds the changes a stream keeps while it cannot send.
	maxOwed = 256
	// streamBuffer is how many changes wait for a stream to send them.
	streamBuffer = 256
)

// CloseStreams ends every live stream, now and from now on: the server
// calls it when shutting down, since a stream never finishes by itself and
// would hold the drain until its deadline. Browsers reconnect to whichever
// server answers next.
func (w *Web) CloseStreams() { w.closeOnce.Do(func() { close(w.closing) }) }
