// Package service holds Quench's use cases. Each runs in one transaction,
// checks who may do it, and appends exactly one timeline event for every
// change it makes to an incident. HTML pages, the JSON API and the CLI all
// come through here, so the rules hold whatever the client.
package service

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// Service is the application core.
type Service struct {
	store  *store.Store
	now    func() time.Time
	log    *slog.Logger
	hasher auth.Hasher
	// publicViewing lets anonymous visitors read public incidents.
	publicViewing bool
	// baseURL prefixes links in notifications.
	baseURL string
	// emailEnabled is set when an SMTP server is configured: e-mail
	// channels may exist and people get messages about their own work.
	emailEnabled bool
	// guard checks the URLs of Slack and webhook channels.
	guard *notify.Guard
	// nudges are the thresholds of incident.unowned and incident.stuck.
	nudges Nudges
	// wake tells the outbox worker that messages may be due.
	wake     chan struct{}
	throttle *throttle
	// hashing bounds concurrent password hashing (passwords.go).
	hashing *gate
	// dummyHash is verified against when a user does not exist, so an
	// unknown name costs as much as a wrong password.
	dummyOnce sync.Once
	dummyHash string
	// tally folds floods of refused sign-ins into counted audit rows.
	tally *tally

	mu        sync.Mutex
	listeners map[int]func(Change)
	nextID    int
	// feed carries changes to and from other replicas (changefeed.go).
	feed *feed
	// inbox paces the ChangeInbox announcements (inboxfeed.go).
	inbox *pacer

	// status caches the status page (status.go).
	status statusCache
}

// Options configure a Service.
type Options struct {
	// Now is the clock; tests pass a fake one.
	Now    func() time.Time
	Log    *slog.Logger
	Hasher auth.Hasher
	// PrivateInstance turns public viewing off: everything needs a login.
	PrivateInstance bool
	// BaseURL is how people reach Quench, for links in notifications.
	BaseURL string
	// Email says an SMTP server is configured: e-mail channels may be
	// added and people get e-mail about their own work.
	Email bool
	// Guard checks channel URLs; nil refuses every private address.
	Guard *notify.Guard
	// Nudges are the thresholds of the nudges; zero fields take defaults.
	Nudges Nudges
	// HashSlots is how many password hashes run at once (0: one per CPU);
	// HashQueue how many more may wait (0: a few per slot, -1: none).
	HashSlots, HashQueue int
}

// New returns a Service over st.
func New(st *store.Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Guard == nil {
		opt.Guard, _ = notify.NewGuard(nil)
	}
	if opt.Hasher == (auth.Hasher{}) {
		opt.Hasher = auth.DefaultHasher
	}
	if opt.HashSlots <= 0 {
		opt.HashSlots = runtime.NumCPU()
	}
	switch {
	case opt.HashQueue == 0:
		opt.HashQueue = hashQueuePerCPU * opt.HashSlots
	case opt.HashQueue < 0:
		opt.HashQueue = 0
	}
	s := &Service{store: st, now: opt.Now, log: opt.Log, hasher: opt.Hasher, publicViewing: !opt.PrivateInstance,
		baseURL: strings.TrimRight(opt.BaseURL, "/"), emailEnabled: opt.Email, guard: opt.Guard, nudges: opt.Nudges.withDefaults(),
		wake:      make(chan struct{}, 1),
		throttle:  &throttle{store: st},
		hashing:   newGate(opt.HashSlots, opt.HashQueue),
		tally:     &tally{rows: map[string]*tallyRow{}},
		listeners: map[int]func(Change){}, feed: newFeed()}
	s.inbox = &pacer{every: inboxPace, fn: func() { s.publish(Change{Kind: ChangeInbox}) }}
	return s
}

// PublicViewing reports whether anonymous visitors may read public incidents.
func (s *Service) PublicViewing() bool { return s.publicViewing }

// Store exposes the store for health checks and metrics.
func (s *Service) Store() *store.Store { return s.store }

// Database names the database in use ("sqlite" or "postgres"), for the
// admin's settings page, which has no other business with the store.
func (s *Service) Database() string { return string(s.store.Dialect()) }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Change tells listeners (live pages) that an incident changed.
type Change struct {
	Incident int64
	Kind     incident.EventKind
	// Public is false when only the team may learn of the change.
	Public bool
}

// Subscribe registers fn for every committed change until cancel is called.
// fn must not block.
func (s *Service) Subscribe(fn func(Change)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, id)
	}
}

func (s *Service) publish(c Change) { s.publishAnnounced(c, nil) }

// publishAnnounced is publish for a change whose transaction a may have
// announced to the other replicas already (announceInTx); if it did not,
// the change is announced now, as publish does.
func (s *Service) publishAnnounced(c Change, a *txAnnouncement) {
	if c.Kind != ChangeInbox {
		s.status.changed(c.Incident)
	}
	s.mu.Lock()
	on := s.feed.on
	s.mu.Unlock()
	var announced <-chan struct{}
	if on && !a.wasSent() {
		announced = s.feed.queue(c)
	}
	s.dispatch(c)
	if announced != nil {
		select {
		case <-announced:
		case <-time.After(announceWait):
		}
	}
}

// dispatch hands a change to this replica's listeners.
func (s *Service) dispatch(c Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.listeners {
		fn(c)
	}
}

// Errors for principals that may not act.
var (
	errLogin = problem.New(problem.Unauthenticated, "unauthenticated", "log in or send an API token")
)

func forbidden(what string) error {
	return problem.New(problem.Forbidden, "forbidden", "you may not %s", what)
}

// require checks that p may perform a: anonymous callers are asked to log
// in, authenticated ones without the right are refused.
func require(p auth.Principal, a auth.Action, what string) error {
	if p.Can(a) {
		return nil
	}
	if p.IsAnonymous() {
		return errLogin
	}
	return forbidden(what)
}

// audience decides what p may read: the team reads everything, anonymous
// viewers read public content only (if the instance lets them), and a token
// without read scope (an ingest token) reads nothing.
func (s *Service) audience(p auth.Principal) (publicOnly bool, err error) {
	if p.IsAnonymous() {
		if !s.publicViewing {
			return true, errLogin
		}
		return true, nil
	}
	if p.Can(auth.ReadAll) {
		return false, nil
	}
	return true, forbidden("read incidents")
}

// notFound hides an incident from those who may not see it, answering as if
// it did not exist so its existence is not confirmed.
func notFound(number int64) error {
	return problem.New(problem.NotFound, "not_found", "incident #%d not found", number)
}

// missing names what a use case looked for when the store says it does not
// exist. Only store.ErrNotFound becomes a 404; any other error (a busy or
// unavailable database) passes through to become the 503 a client retries,
// never a "not found" that tells it to give up. A nil err stays nil.
func missing(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(problem.NotFound, "not_found", format, args...)
	}
	return err
}

// visibleIncident reads an incident p may see, for reads (forUpdate false)
// or read-modify-write (true). Viewers (publicOnly) read it as they may
// know it: updated_at is their last change (store.Tx.IncidentForViewers).
func visibleIncident(ctx context.Context, tx *store.Tx, number int64, publicOnly, forUpdate bool) (*incident.Incident, error) {
	read := tx.Incident
	switch {
	case forUpdate:
		read = tx.IncidentForUpdate
	case publicOnly:
		read = tx.IncidentForViewers
	}
	inc, err := read(ctx, number)
	if err := seen(number, publicOnly, inc, err); err != nil {
		return nil, err
	}
	if publicOnly {
		inc.ForViewers()
	}
	return inc, nil
}

// mayRead is visibleIncident for reads that need only know that p may see
// the incident (its updates, links, files): viewers' updated_at is not
// worked out for nothing.
func mayRead(ctx context.Context, tx *store.Tx, number int64, publicOnly bool) error {
	inc, err := tx.Incident(ctx, number)
	return seen(number, publicOnly, inc, err)
}

// seen is the error of reading incident number (inc, err) for p: "not
// found" also when p is a viewer (publicOnly) and it is confidential.
func seen(number int64, publicOnly bool, inc *incident.Incident, err error) error {
	if errors.Is(err, store.ErrNotFound) || (err == nil && publicOnly && inc.Confidential()) {
		return notFound(number)
	}
	return err
}

// ClaimLease makes holder the one replica that runs the background job
// name for ttl from now, if no other replica holds it (see jobs.Leases).
func (s *Service) ClaimLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.Now()
	var ok bool
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		ok, err = tx.ClaimLease(ctx, name, holder, now, now.Add(ttl))
		return err
	})
	return ok, err
}

// ReleaseLease gives up holder's lease of job name.
func (s *Service) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.store.Write(ctx, func(tx *store.Tx) error { return tx.ReleaseLease(ctx, name, holder) })
}
