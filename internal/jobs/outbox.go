package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/notify/slack"
	"github.com/quenchhq/quench/internal/notify/webhook"
	"github.com/quenchhq/quench/internal/service"
)

// Notifiers builds the sender for a message's target: a channel's Slack
// webhook, signed webhook or recipients, or a person's address.
type Notifiers func(t service.Target) (notify.Notifier, error)

// Outbox sends what the outbox holds. It leases due messages (a lease
// outlives one attempt, so two replicas never send the same message at
// once), sends each on its own goroutine with a per-attempt timeout, and
// records the outcome. A channel that hangs holds at most PerChannel
// sends; the others go on.
//
// It looks through the outbox for due messages when a change that may
// have queued some has committed (the service's wake-up), when an outcome
// is recorded (the next message of its lane may be due), when a send ends
// while the last look left due messages behind for want of room, and
// every Poll. On SQLite the writer hands it the messages each commit
// queued instead (service.LeaseFresh); those without room stay handed
// over until a send ends, and it looks through the outbox after a record
// or a send only while some were left there (behind another message of
// their lane) or the last look filled its room: a look costs a read past
// every message in flight.
//
// To keep a busy channel's sends going while the next lease is being
// written, it leases up to Prefetch more messages for a channel than it
// sends to at once; they wait for a free slot, in order, and one that
// waited too long for a slot is let go (its lease runs out, another
// worker sends it) rather than sent on a lease that may be ending. A
// channel with a send under way for more than slowSend gets no more than
// it can send. A send gives its slot back as soon as the receiver has
// answered; outcomes that end while one is being recorded are recorded
// together, in one transaction.
//
// Delivery is at least once: a crash between a receiver's 2xx and the
// record of it sends that message again when its lease runs out, with the
// same webhook-id, so receivers can drop the repeat.
type Outbox struct {
	svc       *service.Service
	log       *slog.Logger
	notifiers Notifiers
	metrics   *OutboxMetrics
	id        string

	// MaxInFlight bounds the messages a worker has leased and not yet
	// sent: waiting for a slot or being sent. PerChannel bounds the
	// concurrent sends to one channel (people's e-mails count as one
	// channel), and Prefetch the messages leased for a channel beyond
	// those. MaxUnrecorded bounds the messages leased whose outcomes are
	// not recorded yet: a sent message waits for the record of its
	// outcome, and a worker whose records do not go through stops
	// sending.
	//
	// Sends to a loopback or LAN receiver take a millisecond or so, the
	// record of their outcomes a commit (several ms, more while intake
	// keeps the writer busy): at 1,000 messages a second to one channel,
	// 4 sends at once, or 64 messages leased until their outcomes were
	// recorded, let a queue build.
	MaxInFlight   int
	PerChannel    int
	Prefetch      int
	MaxUnrecorded int
	// Poll is how often the outbox is looked at without a wake-up: for
	// retries coming due and for messages other replicas queued. Each
	// poll looks at every due message (a deep lease).
	Poll time.Duration

	mu    sync.Mutex
	chans map[int64]*channelSends
	// active counts the messages leased and not yet sent (waiting or
	// being sent); unrecorded those leased whose outcome is not recorded
	// yet, active ones included.
	active, unrecorded int
	// hidden: the last lease stopped at its window with room left;
	// lastDeep: when the last deep lease was.
	hidden   bool
	lastDeep time.Time
	// short: the last lease was short of room, so due messages may have
	// been left behind: a send that ends looks again (for those handed
	// over); scanShort: the last look through the outbox filled the room
	// it had, so a send that ends looks through it again.
	short, scanShort bool
	// behind are the handed-over messages left in the outbox (behind
	// another of their lane, most likely), with when: until a look leases
	// them, or for a lease's time, a record looks through the outbox.
	behind map[int64]time.Time
	wg     sync.WaitGroup
	// freed is signalled when outcomes are recorded (the next message
	// of their lanes may be due, and they no longer count as
	// unrecorded), and
	// when a send ends while the worker is short of room.
	freed chan struct{}

	// Outcomes waiting to be recorded, and whether a goroutine is
	// recording them.
	rmu       sync.Mutex
	toRecord  []*outcome
	recording bool
}

// channelSends is what a worker does for one channel: the sends under way
// (by delivery, with their start) and the leased messages waiting for a
// slot, oldest first.
type channelSends struct {
	sending map[int64]time.Time
	waiting []waiter
}

type waiter struct {
	d        *notify.Delivery
	leasedAt time.Time
}

// Lease is how long a claimed message belongs to one worker: longer than
// an attempt may take.
const Lease = notify.AttemptTimeout + 5*time.Second

const (
	// maxWait is how long a leased message may wait for a slot and still
	// be sent: the whole attempt must fit in what is left of its lease.
	maxWait = Lease - notify.AttemptTimeout - time.Second
	// slowSend: a channel with a send under way for longer gets nothing
	// leased ahead.
	slowSend = time.Second
	// deepEvery bounds how often a pass looks past the lease window when
	// the last lease said messages may be hidden behind a full channel.
	deepEvery = 200 * time.Millisecond
)

// NewOutbox returns a worker; metrics may be nil.
func NewOutbox(svc *service.Service, log *slog.Logger, n Notifiers, metrics *OutboxMetrics) *Outbox {
	host, _ := os.Hostname()
	return &Outbox{svc: svc, log: log, notifiers: n, metrics: metrics,
		id:          fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8]),
		MaxInFlight: 64, PerChannel: 16, Prefetch: 16, MaxUnrecorded: 1024, Poll: time.Second,
		chans: map[int64]*channelSends{}, freed: make(chan struct{}, 1), behind: map[int64]time.Time{}}
}

// Run sends until ctx ends, then waits for the sends in flight (each ends
// within its attempt timeout); messages still waiting for a slot are let
// go.
func (o *Outbox) Run(ctx context.Context) {
	if err := o.svc.ReleaseLeases(ctx); err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: leases not released", "err", err)
	}
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	fresh := o.svc.FreshWake() // nil on PostgreSQL: never
	look, deep := true, true
	for {
		if look {
			o.pass(ctx, deep)
		}
		select {
		case <-ctx.Done():
			o.wg.Wait()
			return
		case <-t.C:
			look, deep = true, true
			continue
		case <-o.svc.OutboxWake():
			look = true
		case <-o.svc.QueuedWake(): // nil on SQLite: never
			look = true
		case <-fresh:
			o.passFresh(ctx)
			look = false
		case <-o.freed:
			if fresh != nil {
				// Handed-over messages that had no room wait for it.
				o.passFresh(ctx)
			}
			look = fresh == nil || o.leftBehind()
		}
		o.mu.Lock()
		deep = o.hidden && time.Since(o.lastDeep) >= deepEvery
		o.mu.Unlock()
	}
}

// leftBehind reports whether due messages may wait in the outbox that no
// look has found: the last lease was short of room, or handed-over
// messages were left there.
func (o *Outbox) leftBehind() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for id, at := range o.behind {
		if now.Sub(at) > Lease {
			delete(o.behind, id) // the poll finds it
		}
	}
	return o.scanShort || len(o.behind) > 0
}

// Drain sends every message due now and waits for the outcomes, again and
// again until nothing is due: the next message of a lane becomes due when
// the one before it is sent. Tests drive the outbox with it and a fake
// clock.
func (o *Outbox) Drain(ctx context.Context) int {
	sent := 0
	for {
		n := o.passFresh(ctx) + o.pass(ctx, true)
		o.wg.Wait()
		if n == 0 {
			return sent
		}
		sent += n
	}
}

// pass leases what there is room for and starts sending it; it returns
// how many messages it leased.
func (o *Outbox) pass(ctx context.Context, deep bool) int {
	return o.lease(ctx, func(r service.LeaseRequest) ([]*notify.Delivery, error) {
		r.Deep = deep
		ds, hidden, err := o.svc.LeaseDeliveries(ctx, r)
		if err == nil {
			o.mu.Lock()
			o.hidden = hidden
			if deep {
				o.lastDeep = time.Now()
			}
			for _, d := range ds {
				delete(o.behind, d.ID)
			}
			o.mu.Unlock()
		}
		return ds, err
	}, &o.scanShort)
}

// passFresh leases, of the messages handed over since the last time,
// what there is room for, and starts sending it.
func (o *Outbox) passFresh(ctx context.Context) int {
	return o.lease(ctx, func(r service.LeaseRequest) ([]*notify.Delivery, error) {
		ds, left, err := o.svc.LeaseFresh(ctx, r)
		if len(left) > 0 {
			now := time.Now()
			o.mu.Lock()
			for _, id := range left {
				if len(o.behind) >= maxBehind {
					break // looks go on while any is left; the poll finds the rest
				}
				o.behind[id] = now
			}
			o.mu.Unlock()
		}
		return ds, err
	}, nil)
}

// maxBehind bounds the handed-over messages remembered as left behind.
const maxBehind = 4096

// lease leases what there is room for with claim and starts sending it;
// it returns how many messages it leased.
// shortOut, when not nil, says whether the lease filled the room it had:
// then more may be due than it took. (A channel that had no room tells
// nothing of what waits for it.)
func (o *Outbox) lease(ctx context.Context, claim func(service.LeaseRequest) ([]*notify.Delivery, error), shortOut *bool) int {
	o.mu.Lock()
	free := min(o.MaxInFlight-o.active, o.MaxUnrecorded-o.unrecorded)
	room := make(map[int64]int, len(o.chans))
	now := time.Now()
	full := free <= 0
	for ch, cs := range o.chans {
		limit := o.PerChannel
		if !cs.slow(now) {
			limit += o.Prefetch
		}
		room[ch] = max(0, limit-len(cs.sending)-len(cs.waiting))
		full = full || room[ch] == 0
	}
	if free <= 0 || ctx.Err() != nil {
		o.short = full
		if shortOut != nil {
			*shortOut = false
		}
		o.mu.Unlock()
		return 0
	}
	o.mu.Unlock()
	// The leases run from about now: a message that waits for a slot
	// counts its wait from here.
	leasedAt := now
	ds, err := claim(service.LeaseRequest{By: o.id, Lease: Lease, Limit: free, PerChannel: o.PerChannel + o.Prefetch, Room: room})
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: lease failed", "err", err)
		}
		return 0
	}
	now = time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	// Filled: the lease took as many as it was allowed, in all or for a
	// channel. Short of room: filled, or a channel had none.
	filled := len(ds) == free
	taken := map[int64]int{}
	for _, d := range ds {
		taken[d.ChannelID]++
	}
	for ch, n := range taken {
		if r, ok := room[ch]; (ok && n >= r) || (!ok && n >= o.PerChannel+o.Prefetch) {
			filled = true
		}
	}
	o.short = full || filled
	if shortOut != nil {
		*shortOut = filled
	}
	for _, d := range ds {
		o.active++
		o.unrecorded++
		o.wg.Add(1)
		cs := o.chans[d.ChannelID]
		if cs == nil {
			cs = &channelSends{sending: map[int64]time.Time{}}
			o.chans[d.ChannelID] = cs
		}
		if len(cs.sending) < o.PerChannel {
			o.start(ctx, cs, d, now)
		} else {
			cs.waiting = append(cs.waiting, waiter{d: d, leasedAt: leasedAt})
		}
	}
	return len(ds)
}

// slow reports whether a send to the channel has been under way for long.
func (cs *channelSends) slow(now time.Time) bool {
	for _, started := range cs.sending {
		if now.Sub(started) > slowSend {
			return true
		}
	}
	return false
}

// start sends d on its own goroutine; o.mu is held.
func (o *Outbox) start(ctx context.Context, cs *channelSends, d *notify.Delivery, now time.Time) {
	cs.sending[d.ID] = now
	go func() {
		oc := o.send(ctx, d)
		o.sent(ctx, d)
		o.record(ctx, oc)
		if oc.skip {
			o.mu.Lock()
			o.unrecorded--
			o.mu.Unlock()
		}
		o.wg.Done()
	}()
}

// sent gives d's sending slot back and starts the next message waiting
// for one. A message that waited too long, or that would start after the
// worker was asked to stop, is let go: it stays leased until its lease
// runs out and is then sent by whichever worker leases it.
func (o *Outbox) sent(ctx context.Context, d *notify.Delivery) {
	o.mu.Lock()
	o.active--
	cs := o.chans[d.ChannelID]
	delete(cs.sending, d.ID)
	now := time.Now()
	for len(cs.waiting) > 0 && len(cs.sending) < o.PerChannel {
		w := cs.waiting[0]
		cs.waiting = cs.waiting[1:]
		if ctx.Err() != nil || now.Sub(w.leasedAt) > maxWait {
			o.active--
			o.unrecorded--
			o.wg.Done()
			continue
		}
		o.start(ctx, cs, w.d, now)
	}
	// Short of room, look again once a quarter of the channel's room is
	// free, or of the worker's: a look per send would read past every
	// message in flight a thousand times a second.
	limit := o.PerChannel
	if !cs.slow(now) {
		limit += o.Prefetch
	}
	look := o.short && (limit-len(cs.sending)-len(cs.waiting) >= max(1, limit/4) || o.MaxInFlight-o.active >= max(1, o.MaxInFlight/4))
	if len(cs.sending) == 0 && len(cs.waiting) == 0 {
		delete(o.chans, d.ChannelID)
	}
	o.mu.Unlock()
	if look {
		o.signal()
	}
}

func (o *Outbox) signal() {
	select {
	case o.freed <- struct{}{}:
	default:
	}
}

// outcome is one attempt, to be recorded.
type outcome struct {
	service.Attempt
	kind string
	// base is the outbox's logger; log adds the message to it.
	base *slog.Logger
	// skip: nothing to record (the message could not be prepared; its
	// lease runs out and it is tried again).
	skip bool
	// done is closed once the outcome is recorded or failed to be.
	done chan struct{}
}

// log is the outbox's logger with the message's attributes, made only
// when something is logged: most sends log nothing, and formatting the
// attributes of each was about 1% of the server's CPU at 1,000 messages a
// second.
func (oc *outcome) log() *slog.Logger {
	d := oc.Delivery
	return oc.base.With("delivery", d.ID, "key", d.Key, "channel", d.Channel, "event", d.Event, "incident", d.Incident)
}

// send makes one attempt at d.
func (o *Outbox) send(ctx context.Context, d *notify.Delivery) *outcome {
	// An attempt runs to its own timeout even when the process is asked
	// to stop: cutting it short would leave the receiver's answer unknown.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notify.AttemptTimeout)
	defer cancel()
	oc := &outcome{Attempt: service.Attempt{Delivery: d, By: o.id}, kind: "email", base: o.log}
	target, suppress, err := o.svc.PrepareDelivery(actx, d)
	if err != nil {
		oc.log().Warn("outbox: cannot prepare", "err", err)
		oc.skip = true // the lease runs out and it is tried again
		return oc
	}
	if target.Channel != nil {
		oc.kind = string(target.Channel.Type)
	}
	oc.Suppress = suppress
	if suppress == "" {
		msg := d.Message
		if len(target.Recipients) > 0 {
			msg.Recipients = target.Recipients
		}
		msg.Customer = target.Customer
		n, err := o.notifiers(target)
		if err != nil {
			oc.Retryable, oc.Err = false, err
		} else {
			oc.Retryable, oc.Err = n.Notify(actx, msg)
		}
	}
	return oc
}

// record writes oc's outcome. Outcomes that arrive while one goroutine
// writes wait, and it writes them next, together (group commit); record
// returns once oc's own is written or has failed.
func (o *Outbox) record(ctx context.Context, oc *outcome) {
	if oc.skip {
		return
	}
	oc.done = make(chan struct{})
	o.rmu.Lock()
	o.toRecord = append(o.toRecord, oc)
	if o.recording {
		o.rmu.Unlock()
		<-oc.done
		return
	}
	o.recording = true
	for len(o.toRecord) > 0 {
		n := min(len(o.toRecord), maxRecordBatch)
		batch := slices.Clone(o.toRecord[:n])
		o.toRecord = slices.Delete(o.toRecord, 0, n)
		o.rmu.Unlock()
		o.write(ctx, batch)
		o.rmu.Lock()
	}
	o.recording = false
	o.rmu.Unlock()
}

// maxRecordBatch bounds the outcomes written in one transaction.
const maxRecordBatch = 256

func (o *Outbox) write(ctx context.Context, batch []*outcome) {
	as := make([]service.Attempt, len(batch))
	for i, oc := range batch {
		as[i] = oc.Attempt
	}
	err := o.svc.FinishDeliveries(ctx, as)
	for _, oc := range batch {
		d := oc.Delivery
		switch {
		case err != nil:
			oc.log().Error("outbox: outcome not recorded", "err", err, "sent", oc.Err == nil && oc.Suppress == "")
		case d.State == notify.Sent:
			if oc.base.Enabled(ctx, slog.LevelDebug) {
				oc.log().Debug("notification sent", "attempts", d.Attempts)
			}
		case d.State == notify.Failing:
			oc.log().Info("notification failed, will retry", "attempts", d.Attempts, "next_attempt_at", d.NextAttemptAt, "err", d.LastError)
		case d.State == notify.Failed, d.State == notify.Dead:
			oc.log().Warn("notification failed for good", "state", d.State, "attempts", d.Attempts, "err", d.LastError)
		case d.State == notify.Suppressed:
			oc.log().Info("notification suppressed", "reason", oc.Suppress)
		}
		if err == nil {
			o.metrics.observe(oc.kind, d.State)
		}
		close(oc.done)
	}
	o.mu.Lock()
	o.unrecorded -= len(batch)
	o.mu.Unlock()
	o.signal()
}

// Nudges checks for due nudges every interval until ctx ends, on the
// replica that holds the "nudges" lease; each nudge goes out once per
// phase entry whoever looks (service.Nudge).
func Nudges(ctx context.Context, svc *service.Service, log *slog.Logger, leases *Leases, every time.Duration) {
	leases.Run(ctx, "nudges", every, svc.Nudge)
}

// OutboxMetrics counts outcomes by channel type, and reports the outbox's
// depth and the age of its oldest unfinished message when scraped.
type OutboxMetrics struct {
	outcomes *prometheus.CounterVec
}

// NewOutboxMetrics registers the outbox metrics on reg.
func NewOutboxMetrics(reg prometheus.Registerer, svc *service.Service) *OutboxMetrics {
	m := &OutboxMetrics{outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quench_notifications_total",
		Help: "Notification attempts by channel type and outcome (sent, retry, failed, dead, suppressed).",
	}, []string{"channel_type", "outcome"})}
	reg.MustRegister(m.outcomes, &outboxCollector{svc: svc,
		depth: prometheus.NewDesc("quench_outbox_messages", "Unfinished messages in the outbox by state.", []string{"state"}, nil),
		age:   prometheus.NewDesc("quench_outbox_oldest_age_seconds", "Age of the oldest unfinished message in the outbox.", nil, nil),
	})
	return m
}

func (m *OutboxMetrics) observe(kind string, st notify.State) {
	if m == nil {
		return
	}
	outcome := string(st)
	if st == notify.Failing {
		outcome = "retry"
	}
	m.outcomes.WithLabelValues(kind, outcome).Inc()
}

type outboxCollector struct {
	svc        *service.Service
	depth, age *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.age }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.svc.OutboxStats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Failing), "failing")
	age := 0.0
	if !st.OldestDue.IsZero() {
		age = c.svc.Now().Sub(st.OldestDue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}

// ChannelNotifiers sends through the real channel packages: Slack and
// webhooks over client (which must be the outbound guard's), e-mail over
// smtp. A zero smtp.Host refuses e-mail targets.
func ChannelNotifiers(client *http.Client, smtp email.Config) Notifiers {
	return func(t service.Target) (notify.Notifier, error) {
		if t.Channel == nil {
			if smtp.Host == "" {
				return nil, errors.New("e-mail is not set up (QUENCH_SMTP_HOST)")
			}
			return email.New(smtp, t.Recipients), nil
		}
		switch c := t.Channel; c.Type {
		case notify.Slack:
			return slack.New(c.URL, client), nil
		case notify.Webhook:
			return webhook.New(c.URL, c.Secret, client)
		case notify.Email:
			if smtp.Host == "" {
				return nil, errors.New("e-mail is not set up (QUENCH_SMTP_HOST)")
			}
			return email.New(smtp, c.Recipients), nil
		default:
			return nil, fmt.Errorf("unknown channel type %q", c.Type)
		}
	}
}
