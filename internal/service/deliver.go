package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/store"
)

// This file is the outbox worker's side of the service: lease due
// messages, decide at the last moment whether one may still go out, and
// record what happened. The worker itself (package jobs) only sends.

func (s *Service) wakeOutbox() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// OutboxWake delivers a signal after changes that may have made
// messages due (queued ones signal FreshWake on SQLite, QueuedWake on
// PostgreSQL); the worker also polls, so a missed signal only delays.
func (s *Service) OutboxWake() <-chan struct{} { return s.wake }

// FreshWake delivers a signal when a commit queued messages that
// LeaseFresh can claim; nil (never) on PostgreSQL.
func (s *Service) FreshWake() <-chan struct{} { return s.store.FreshWake() }

// QueuedWake delivers a signal when one of this replica's transactions
// queued messages, on PostgreSQL; nil (never) on SQLite, where FreshWake
// does. A change that queued none (most of an alert storm's) needs no
// look through the outbox.
func (s *Service) QueuedWake() <-chan struct{} { return s.store.QueuedWake() }

// LeaseRequest says what LeaseDeliveries may claim for worker By: at most
// Limit messages, per channel at most Room[channel] (PerChannel when
// absent), each for Lease. Deep looks past the window of the oldest due
// messages (store.LeaseRequest).
type LeaseRequest struct {
	By                string
	Lease             time.Duration
	Limit, PerChannel int
	Room              map[int64]int
	Deep              bool
}

// LeaseFresh claims, as LeaseDeliveries does, the messages queued by
// transactions committed since the last call, without looking through
// the outbox: on SQLite the writer hands them over (store.TakeFresh).
// Those it has no room for stay handed over, for the next call. left are
// those it did not claim: not due (behind another message of their lane,
// most likely); a LeaseDeliveries finds them when they are due. When more
// were queued than handed over, it wakes the worker to look. On
// PostgreSQL it claims nothing.
func (s *Service) LeaseFresh(ctx context.Context, r LeaseRequest) (out []*notify.Delivery, left []int64, err error) {
	fresh, overflow := s.store.TakeFresh()
	if overflow {
		s.wakeOutbox()
	}
	taken := map[int64]int{}
	var claim []store.Fresh
	var later []store.Fresh
	for _, f := range fresh {
		room, ok := r.Room[f.ChannelID]
		if !ok {
			room = r.PerChannel
		}
		if len(claim) >= r.Limit || taken[f.ChannelID] >= room {
			later = append(later, f)
			continue
		}
		taken[f.ChannelID]++
		claim = append(claim, f)
	}
	s.store.ReturnFresh(later)
	if len(claim) == 0 {
		return nil, left, nil
	}
	now := s.Now()
	out, left, err = s.store.ClaimFresh(ctx, claim, now, now.Add(r.Lease), r.By)
	if err != nil {
		ids := make([]int64, len(claim))
		for i, f := range claim {
			ids[i] = f.ID
		}
		return nil, ids, err // a look through the outbox finds them
	}
	return out, left, nil
}

// LeaseDeliveries claims due messages. It picks them with reads on the
// read pool and claims them: on PostgreSQL in a write (which checks each
// again); on SQLite, where one process owns the database, in memory
// (store.ClaimInMemory), so a message costs the single writer only the
// record of its outcome and nothing stands between its commit and its
// send but reads. hidden reports that, not being deep, it stopped at its
// window with room left: messages behind a channel without room may be
// waiting for a deep lease.
func (s *Service) LeaseDeliveries(ctx context.Context, r LeaseRequest) (out []*notify.Delivery, hidden bool, err error) {
	now := s.Now()
	req := store.LeaseRequest{Now: now, Until: now.Add(r.Lease), By: r.By, Limit: r.Limit, PerChannel: r.PerChannel, Room: r.Room, Deep: r.Deep}
	mem := s.store.LeasesInMemory()
	if mem {
		req.Exclude = s.store.HeldLeases(now)
	}
	var ids []int64
	err = s.store.ReadOne(ctx, func(tx *store.Tx) (err error) { ids, hidden, err = tx.LeaseCandidates(ctx, req); return err })
	if err != nil || len(ids) == 0 {
		return nil, hidden, err
	}
	if mem {
		out, _, err = s.store.ClaimInMemory(ctx, ids, now, req.Until, r.By)
		return out, hidden, err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) (err error) { out, err = tx.Claim(ctx, ids, now, req.Until, r.By); return err })
	return out, hidden, err
}

// ReleaseLeases frees every lease. Only for SQLite at start: one process
// owns the database, so a lease left behind is a crash's.
func (s *Service) ReleaseLeases(ctx context.Context) error {
	if s.store.Dialect() != store.SQLite {
		return nil
	}
	s.store.ReleaseAllInMemory()
	return s.store.Write(ctx, func(tx *store.Tx) error { return tx.ReleaseLeases(ctx) })
}

// Target is where a leased message goes now.
type Target struct {
	// Channel is set for channel messages.
	Channel *notify.Channel
	// Recipients are the addresses of a personal message.
	Recipients []string
	// Customer are the personal links of a message to a status page's
	// customer, made now: signed for the address, never kept.
	Customer *notify.CustomerLinks
}

// PrepareDelivery looks at a leased message once more just before it is
// sent. suppress is a reason not to send it: what it says became internal
// (the incident confidential, the update withdrawn), or its channel or
// person went away. Checking now, not only when it was queued, means a
// slip corrected in time never reaches a public channel. Each lookup reads
// what is committed when it runs (prepared statements, no transaction:
// this runs for every message), so a later one is only more recent.
func (s *Service) PrepareDelivery(ctx context.Context, d *notify.Delivery) (t Target, suppress string, err error) {
	err = s.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
		if d.SubscriberID != 0 || d.ReportID != 0 {
			t, suppress, err = s.prepareCustomer(ctx, tx, d)
			return err
		}
		if d.UserID != 0 {
			r, err := tx.RecipientByID(ctx, d.UserID)
			if errors.Is(err, store.ErrNotFound) {
				suppress = "the person no longer exists"
				return nil
			}
			if err != nil {
				return err
			}
			switch {
			case r.Disabled:
				suppress = "the person's account is disabled"
			case !r.Notify:
				suppress = "the person turned e-mail off"
			case r.Email == "":
				suppress = "the person has no e-mail address"
			case !s.emailEnabled:
				suppress = "e-mail is not set up"
			}
			t.Recipients = []string{r.Email}
			return nil
		}
		c, err := tx.Channel(ctx, d.ChannelID)
		if errors.Is(err, store.ErrNotFound) {
			suppress = "the channel was removed"
			return nil
		}
		if err != nil {
			return err
		}
		t.Channel = c
		if c.Disabled {
			suppress = "the channel is disabled"
			return nil
		}
		if c.Type == notify.Email && !s.emailEnabled {
			suppress = "e-mail is not set up"
			return nil
		}
		if !c.Audience.Allows(d.Event) {
			// Made public after an internal message (an agenda, an
			// internal update) was queued for it.
			suppress = "the channel is public now"
			return nil
		}
		if c.Audience != notify.Public || d.Incident == 0 {
			return nil
		}
		inc, err := tx.Incident(ctx, d.Incident)
		if errors.Is(err, store.ErrNotFound) || (err == nil && inc.Confidential()) {
			suppress = "the incident is confidential now"
			return nil
		}
		if err != nil {
			return err
		}
		uid, err := tx.DeliveryUpdate(ctx, d.ID)
		if err != nil || uid == 0 {
			return err
		}
		u, err := tx.Update(ctx, d.Incident, uid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.Visibility != incident.Public) {
			suppress = "the update is internal now"
			return nil
		}
		return err
	})
	return t, suppress, err
}

// Attempt is what became of one try at a leased message: sent (Err
// nil), failed (Retryable says whether trying again may help), or not
// sent at all because of Suppress.
type Attempt struct {
	Delivery  *notify.Delivery
	Retryable bool
	Err       error
	Suppress  string
	// By is the worker whose lease the attempt ran under (LeaseRequest.By);
	// empty ends the message's lease whoever holds it.
	By string
}

// FinishDelivery records the outcome of an attempt: sent; failed for good;
// or failing, due again after the backoff (or the receiver's Retry-After)
// until RetryHorizon has passed, then dead. suppress records a message not
// sent at all.
func (s *Service) FinishDelivery(ctx context.Context, d *notify.Delivery, retryable bool, sendErr error, suppress string) error {
	return s.FinishDeliveries(ctx, []Attempt{{Delivery: d, Retryable: retryable, Err: sendErr, Suppress: suppress}})
}

// FinishDeliveries records the outcomes of several attempts in one
// transaction, as FinishDelivery does for one: the outbox worker records
// the attempts that end while a record is being written together, so a
// busy channel costs a commit per batch, not per message. On success each
// Delivery is updated to its new state.
func (s *Service) FinishDeliveries(ctx context.Context, as []Attempt) error {
	now := s.Now()
	outcomes := make([]store.Outcome, len(as))
	for i, a := range as {
		d, o := a.Delivery, store.Outcome{At: now, Attempted: a.Suppress == ""}
		switch {
		case a.Suppress != "":
			o.State, o.Error = notify.Suppressed, a.Suppress
		case a.Err == nil:
			o.State = notify.Sent
		case !a.Retryable:
			o.State, o.Error = notify.Failed, a.Err.Error()
		case now.Sub(d.CreatedAt) >= notify.RetryHorizon:
			o.State, o.Error = notify.Dead, fmt.Sprintf("gave up after %s: %v", notify.RetryHorizon, a.Err)
		default:
			wait := notify.Backoff(d.Attempts + 1)
			if ra, ok := notify.RetryAfter(a.Err); ok {
				wait = ra
			}
			o.State, o.Error, o.NextAttemptAt = notify.Failing, a.Err.Error(), now.Add(wait)
		}
		outcomes[i] = o
	}
	// Recording must not be cut short by the request or shutdown that
	// ended the send: a sent message recorded as pending goes out again.
	// Unsynced: a record lost to a power failure only sends its message
	// again, with the same webhook-id, as a crash mid-send does; the
	// commits that open incidents do not wait for these fsyncs.
	ctx = context.WithoutCancel(ctx)
	err := s.store.WriteUnsynced(ctx, func(tx *store.Tx) error {
		for i, a := range as {
			if err := tx.FinishDelivery(ctx, a.Delivery.ID, outcomes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// A memory lease stays until it runs out, as one in the
		// database does: the outcome is unknown to the next worker.
		return err
	}
	for _, a := range as {
		s.store.ReleaseInMemory(a.By, a.Delivery.ID)
	}
	for i, a := range as {
		d, o := a.Delivery, outcomes[i]
		d.State, d.LastError = o.State, o.Error
		if o.Attempted {
			d.Attempts++
		}
		if !o.NextAttemptAt.IsZero() {
			d.NextAttemptAt = o.NextAttemptAt
		}
	}
	return nil
}

// OutboxStats is the outbox at a glance, for metrics.
func (s *Service) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	var st store.OutboxStats
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { st, err = tx.OutboxStats(ctx); return err })
	return st, err
}

// Nudges are the thresholds after which Quench reminds the team by
// itself: an active incident nobody owns, an incident that stays in a
// phase too long. The weekly review uses the same stuck thresholds.
type Nudges struct {
	Unowned time.Duration
	Stuck   map[incident.Phase]time.Duration
}

// DefaultNudges: 10 minutes without an owner; active 1 day, mitigated 7
// days, resolved 14 days.
func DefaultNudges() Nudges {
	return Nudges{Unowned: 10 * time.Minute, Stuck: map[incident.Phase]time.Duration{
		incident.Active: 24 * time.Hour, incident.Mitigated: 7 * 24 * time.Hour, incident.Resolved: 14 * 24 * time.Hour}}
}

func (n Nudges) withDefaults() Nudges {
	d := DefaultNudges()
	if n.Unowned > 0 {
		d.Unowned = n.Unowned
	}
	for ph, v := range n.Stuck {
		if v > 0 {
			d.Stuck[ph] = v
		}
	}
	return d
}

// NudgeThresholds returns the thresholds in use.
func (s *Service) NudgeThresholds() Nudges { return s.nudges }

// Nudge sends incident.unowned and incident.stuck where they are due, once
// per phase entry each (a table remembers which went out, so replicas and
// restarts do not repeat them, and a clock jump sends each at most once).
func (s *Service) Nudge(ctx context.Context) error {
	now := s.Now()
	var open []*incident.Incident
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		open, _, err = tx.Incidents(ctx, store.IncidentFilter{Phases: []incident.Phase{incident.Active, incident.Mitigated, incident.Resolved}, Sort: "number",
			Limit: 10000})
		return err
	})
	if err != nil {
		return err
	}
	for _, inc := range open {
		entered := inc.EnteredAt[inc.Phase]
		if entered.IsZero() || entered.After(now) {
			continue
		}
		in := now.Sub(entered)
		if inc.Phase == incident.Active && inc.Owners[incident.Active] == "" && in >= s.nudges.Unowned {
			if err := s.nudge(ctx, inc.Number, notify.Unowned, entered, ""); err != nil {
				return err
			}
		}
		if limit, ok := s.nudges.Stuck[inc.Phase]; ok && in >= limit {
			if err := s.nudge(ctx, inc.Number, notify.Stuck, entered, durationWords(in)); err != nil {
				return err
			}
		}
	}
	return nil
}

// nudge queues one nudge unless it already went out for this phase entry.
func (s *Service) nudge(ctx context.Context, number int64, e notify.Event, entered time.Time, body string) error {
	queued := false
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		inc, err := tx.Incident(ctx, number)
		if err != nil {
			return err
		}
		if !inc.EnteredAt[inc.Phase].Equal(entered) {
			return nil // it moved on meanwhile
		}
		first, err := tx.RecordNudge(ctx, number, string(e), string(inc.Phase), entered, s.Now())
		if err != nil || !first {
			return err
		}
		queued = true
		ev := &incident.Event{Incident: number, At: s.Now()}
		return s.fanOut(ctx, tx, inc, ev, []planned{{event: e, body: body, to: string(inc.Phase)}})
	})
	if queued && err == nil {
		s.wakeOutbox()
	}
	return err
}
