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
// sends; the others go on. A send gives its slot back as soon as the
// receiver has answered; outcomes that end while one is being recorded
// are recorded together, in one transaction.
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

	// MaxInFlight bounds the messages a worker holds at once, being sent
	// or being recorded; PerChannel bounds the concurrent sends to one
	// channel (people's e-mails count as one channel).
	MaxInFlight int
	PerChannel  int
	// Poll is how often the outbox is looked at without a wake-up: for
	// retries coming due and for messages other replicas queued.
	Poll time.Duration

	mu       sync.Mutex
	inflight map[int64]int // sends per channel
	// held counts the messages leased whose outcome is not recorded yet.
	held int
	wg   sync.WaitGroup
	// freed is signalled when a send ends and when an outcome is
	// recorded: a sending slot is free again, the next message of its
	// lane may be due.
	freed chan struct{}

	// Outcomes waiting to be recorded, and whether a goroutine is
	// recording them.
	rmu       sync.Mutex
	toRecord  []*outcome
	recording bool
}

// Lease is how long a claimed message belongs to one worker: longer than
// an attempt may take.
const Lease = notify.AttemptTimeout + 5*time.Second

// NewOutbox returns a worker; metrics may be nil.
func NewOutbox(svc *service.Service, log *slog.Logger, n Notifiers, metrics *OutboxMetrics) *Outbox {
	host, _ := os.Hostname()
	return &Outbox{svc: svc, log: log, notifiers: n, metrics: metrics,
		id:          fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8]),
		MaxInFlight: 32, PerChannel: 4, Poll: time.Second, inflight: map[int64]int{}, freed: make(chan struct{}, 1)}
}

// Run sends until ctx ends, then waits for the sends in flight (each ends
// within its attempt timeout).
func (o *Outbox) Run(ctx context.Context) {
	if err := o.svc.ReleaseLeases(ctx); err != nil && ctx.Err() == nil {
		o.log.Warn("outbox: leases not released", "err", err)
	}
	t := time.NewTicker(o.Poll)
	defer t.Stop()
	for {
		o.pass(ctx)
		select {
		case <-ctx.Done():
			o.wg.Wait()
			return
		case <-t.C:
		case <-o.svc.OutboxWake():
		case <-o.freed:
		}
	}
}

// Drain sends every message due now and waits for the outcomes, again and
// again until nothing is due: the next message of a lane becomes due when
// the one before it is sent. Tests drive the outbox with it and a fake
// clock.
func (o *Outbox) Drain(ctx context.Context) int {
	sent := 0
	for {
		n := o.pass(ctx)
		o.wg.Wait()
		if n == 0 {
			return sent
		}
		sent += n
	}
}

// pass leases what there is room for and starts sending it; it returns
// how many messages it started.
func (o *Outbox) pass(ctx context.Context) int {
	o.mu.Lock()
	free := o.MaxInFlight - o.held
	room := make(map[int64]int, len(o.inflight))
	for ch, n := range o.inflight {
		room[ch] = max(0, o.PerChannel-n)
	}
	o.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return 0
	}
	ds, err := o.svc.LeaseDeliveries(ctx, o.id, Lease, free, o.PerChannel, room)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("outbox: lease failed", "err", err)
		}
		return 0
	}
	for _, d := range ds {
		o.mu.Lock()
		o.inflight[d.ChannelID]++
		o.held++
		o.mu.Unlock()
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			oc := o.send(ctx, d, o.release)
			o.record(ctx, oc)
			o.mu.Lock()
			o.held--
			o.mu.Unlock()
			o.signal()
		}()
	}
	return len(ds)
}

// release gives the sending slot of a channel back.
func (o *Outbox) release(channel int64) {
	o.mu.Lock()
	if o.inflight[channel]--; o.inflight[channel] <= 0 {
		delete(o.inflight, channel)
	}
	o.mu.Unlock()
	o.signal()
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
	log  *slog.Logger
	// skip: nothing to record (the message could not be prepared; its
	// lease runs out and it is tried again).
	skip bool
	// done is closed once the outcome is recorded or failed to be.
	done chan struct{}
}

// send makes one attempt at d and calls release once the receiver has
// answered (or the attempt failed before reaching it).
func (o *Outbox) send(ctx context.Context, d *notify.Delivery, release func(channel int64)) *outcome {
	defer release(d.ChannelID)
	// An attempt runs to its own timeout even when the process is asked
	// to stop: cutting it short would leave the receiver's answer unknown.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notify.AttemptTimeout)
	defer cancel()
	oc := &outcome{Attempt: service.Attempt{Delivery: d}, kind: "email",
		log: o.log.With("delivery", d.ID, "key", d.Key, "channel", d.Channel, "event", d.Event, "incident", d.Incident)}
	target, suppress, err := o.svc.PrepareDelivery(actx, d)
	if err != nil {
		oc.log.Warn("outbox: cannot prepare", "err", err)
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
			oc.log.Error("outbox: outcome not recorded", "err", err, "sent", oc.Err == nil && oc.Suppress == "")
		case d.State == notify.Sent:
			oc.log.Debug("notification sent", "attempts", d.Attempts)
		case d.State == notify.Failing:
			oc.log.Info("notification failed, will retry", "attempts", d.Attempts, "next_attempt_at", d.NextAttemptAt, "err", d.LastError)
		case d.State == notify.Failed, d.State == notify.Dead:
			oc.log.Warn("notification failed for good", "state", d.State, "attempts", d.Attempts, "err", d.LastError)
		case d.State == notify.Suppressed:
			oc.log.Info("notification suppressed", "reason", oc.Suppress)
		}
		if err == nil {
			o.metrics.observe(oc.kind, d.State)
		}
		close(oc.done)
	}
}

// Nudges checks for due nudges every interval until ctx ends.
func Nudges(ctx context.Context, svc *service.Service, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := svc.Nudge(ctx); err != nil && ctx.Err() == nil {
			log.Warn("nudges failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
