package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/store"
)

// ChangeStatus is the kind of a change to the status page's own data
// (components, maintenance, settings): other replicas compute their page
// again at once instead of after its time to live. It goes to other
// replicas only, never to live pages.
const ChangeStatus incident.EventKind = "status"

// ChangeResync is the kind of a change that names no incident: live pages
// should look again at everything, because changes made on other replicas
// may have gone unheard (the connection to PostgreSQL was lost).
const ChangeResync incident.EventKind = "resync"

// feed carries committed changes to the other replicas on the same
// PostgreSQL and theirs to this one's live pages (LISTEN/NOTIFY). A change
// is announced after its commit and before the request that made it is
// answered, so a replica that dies right after answering has announced
// everything it acknowledged. Announcements go out in batches: one
// notification statement covers what committed while the previous one
// was being sent, as a group commit does. Intake's group transactions
// announce their changes themselves, with their commit (txAnnouncement).
type feed struct {
	node string
	on   bool // RunChangeFeed is running; set before it starts

	mu      sync.Mutex
	pending []Change
	// sent are closed once the changes queued with them are announced:
	// the last one takes new changes.
	sent []chan struct{}
	wake chan struct{}
}

// maxPendingChanges bounds what waits for PostgreSQL to come back; past
// it the oldest are dropped and replicas resync when their own listening
// connection comes back (a database away that long has broken theirs too).
const maxPendingChanges = 10000

// announceWait bounds how long a request waits for its change to be
// announced: the change is committed, so after this the request is
// answered anyway and the change goes out when PostgreSQL takes it.
const announceWait = 2 * time.Second

func newFeed() *feed {
	return &feed{node: rand.Text()[:12], wake: make(chan struct{}, 1)}
}

// queue adds c to the next announcement and returns what closes when it
// went out.
func (f *feed) queue(c Change) <-chan struct{} {
	f.mu.Lock()
	if len(f.pending) >= maxPendingChanges {
		f.pending = f.pending[1:]
	}
	f.pending = append(f.pending, c)
	if len(f.sent) == 0 {
		f.sent = append(f.sent, make(chan struct{}))
	}
	done := f.sent[len(f.sent)-1]
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return done
}

func (f *feed) take() ([]Change, []chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, d := f.pending, f.sent
	f.pending, f.sent = nil, nil
	return p, d
}

// putBack returns changes whose announcement failed to the front of the
// queue, with their waiters.
func (f *feed) putBack(cs []Change, sent []chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(cs, f.pending...)
	if over := len(f.pending) - maxPendingChanges; over > 0 {
		f.pending = f.pending[over:]
	}
	f.sent = append(sent, f.sent...)
}

// feedMessage is one notification: the changes of one batch, with the
// node that made them, so it does not hear them twice.
type feedMessage struct {
	Node    string        `json:"n"`
	Changes []feedChanged `json:"c"`
}

// feedChanged is a Change as [incident, kind, public]: short, to fit many
// into one notification.
type feedChanged [3]any

// payloads encodes changes into notifications under PostgreSQL's size
// limit, leaving out repeats of the same change in one batch: a live page
// looks again once per change it hears, whatever the count.
func (f *feed) payloads(cs []Change) []string {
	seen := map[Change]bool{}
	var out []string
	msg := feedMessage{Node: f.node}
	size := 0
	flush := func() {
		if len(msg.Changes) == 0 {
			return
		}
		b, _ := json.Marshal(msg)
		out = append(out, string(b))
		msg.Changes, size = nil, 0
	}
	for _, c := range cs {
		if seen[c] {
			continue
		}
		seen[c] = true
		item := feedChanged{c.Incident, string(c.Kind), c.Public}
		b, _ := json.Marshal(item)
		if size+len(b)+64 > store.MaxNotifyPayload {
			flush()
		}
		msg.Changes = append(msg.Changes, item)
		size += len(b) + 1
	}
	flush()
	return out
}

// decode reads a notification; ok is false for one of this node's own or
// one it cannot read.
func (f *feed) decode(payload string) (cs []Change, ok bool) {
	var m struct {
		Node    string            `json:"n"`
		Changes []json.RawMessage `json:"c"`
	}
	if json.Unmarshal([]byte(payload), &m) != nil || m.Node == f.node {
		return nil, false
	}
	for _, raw := range m.Changes {
		var (
			n      int64
			kind   string
			public bool
		)
		item := []any{&n, &kind, &public}
		if json.Unmarshal(raw, &item) != nil {
			continue
		}
		cs = append(cs, Change{Incident: n, Kind: incident.EventKind(kind), Public: public})
	}
	return cs, true
}

// EnableChangeFeed makes the changes committed from now on wait for
// RunChangeFeed to announce them to other replicas. Call it before
// serving, so that no change committed while starting is missed.
func (s *Service) EnableChangeFeed() {
	if s.store.Dialect() == store.Postgres {
		s.mu.Lock()
		s.feed.on = true
		s.mu.Unlock()
	}
}

// RunChangeFeed connects this replica's live pages to the others on the
// same PostgreSQL until ctx ends: it announces this replica's committed
// changes with NOTIFY and hands the other replicas' to the live pages
// here, as if they had been made here. When its listening connection is
// lost it connects again, and live pages then hear a ChangeResync, since
// what other replicas announced meanwhile is gone. On SQLite, where there
// is one node, it only waits for ctx.
func (s *Service) RunChangeFeed(ctx context.Context) {
	if s.store.Dialect() != store.Postgres {
		<-ctx.Done()
		return
	}
	s.EnableChangeFeed()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.store.Listen(ctx, func(first bool) {
			if !first {
				s.log.Info("live updates from other replicas resumed")
				s.dispatch(Change{Kind: ChangeResync, Public: true})
			}
		}, func(payload string) {
			cs, ok := s.feed.decode(payload)
			if !ok {
				return
			}
			for _, c := range cs {
				switch c.Kind {
				case ChangeStatus:
					// Components, maintenance or settings: the page is
					// computed again, and no live page needs to know.
					s.status.changed(0)
					continue
				case ChangeInbox:
				default:
					// The status page drops what it knows of the incident
					// at once, instead of after its time to live.
					s.status.changed(c.Incident)
				}
				s.dispatch(c)
			}
		})
	}()
	s.announce(ctx)
	wg.Wait()
}

// announce sends queued changes until ctx ends. A failed send is tried
// again after a pause, so changes committed just before PostgreSQL went
// away are announced once it is back.
func (s *Service) announce(ctx context.Context) {
	f := s.feed
	pause := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		cs, sent := f.take()
		if len(cs) == 0 {
			continue
		}
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.store.Notify(nctx, f.payloads(cs))
		cancel()
		if err == nil {
			for _, c := range sent {
				close(c)
			}
			pause = 100 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("changes not announced to other replicas yet", "changes", len(cs), "err", err)
		f.putBack(slices.Clip(cs), sent)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// announceKey names a group transaction's announcement (store.Tx.Defer).
const announceKey = "service.changefeed.announce"

// txAnnounceBelow is how full PostgreSQL's notification queue may be for
// changes to be announced in their own transaction (store.Tx.NotifyBelow).
var txAnnounceBelow = 0.5

// txAnnouncement announces the changes of a group transaction's jobs in
// that transaction, just before it commits: PostgreSQL delivers them with
// the commit, so they need no transaction of their own (with its commit
// and WAL flush on every replica's announcer), and the requests that made
// them need not wait for one. A storm's deliveries on three replicas made
// as many announcements as group transactions, each a transaction of its
// own (docs/benchmarks.md, "A storm's announcements in its transactions").
// The jobs' announcements merge into the first job's, which holds whether
// they went out.
type txAnnouncement struct {
	f       *feed
	changes []Change
	into    *txAnnouncement // the first job's, once merged into it
	sent    bool
}

func (a *txAnnouncement) Merge(later store.Deferred) {
	l := later.(*txAnnouncement)
	a.changes = append(a.changes, l.changes...)
	l.into = a
}

func (a *txAnnouncement) Flush(ctx context.Context, tx *store.Tx) (err error) {
	a.sent, err = tx.NotifyBelow(ctx, a.f.payloads(a.changes), txAnnounceBelow)
	return err
}

// wasSent reports whether the transaction announced a's changes; false
// for nil.
func (a *txAnnouncement) wasSent() bool {
	for a != nil && a.into != nil {
		a = a.into
	}
	return a != nil && a.sent
}

// announceInTx has tx, a PostgreSQL group transaction, announce cs when it
// commits; once it did, publishAnnounced tells this replica's viewers. It
// returns nil when tx is not one or no feed runs: cs are then published
// as any change is.
func (s *Service) announceInTx(tx *store.Tx, cs []Change) *txAnnouncement {
	s.mu.Lock()
	on := s.feed.on
	s.mu.Unlock()
	if !on || len(cs) == 0 {
		return nil
	}
	a := &txAnnouncement{f: s.feed, changes: cs}
	if !tx.Defer(announceKey, a) {
		return nil
	}
	return a
}

// statusChanged drops this replica's status page after a change to its
// own data and announces the change to the other replicas, before the
// request that made it is answered (as publish does for incidents), so a
// customer asking any replica next sees it.
func (s *Service) statusChanged() {
	s.status.invalidate()
	s.mu.Lock()
	on := s.feed.on
	s.mu.Unlock()
	if !on {
		return
	}
	select {
	case <-s.feed.queue(Change{Kind: ChangeStatus, Public: true}):
	case <-time.After(announceWait):
	}
}
