package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
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
// Delivery is at least once: a crash between a receiver's 2xx and the
// record of it sends that message again when its lease runs out, with the
// same webhook-id, so receivers can drop the repeat.
type Outbox struct {
	svc       *service.Service
	log       *slog.Logger
	notifiers Notifiers
	metrics   *OutboxMetrics
	id        string

	// MaxInFlight bounds concurrent sends; PerChannel bounds those to one
	// channel (people's e-mails count as one channel).
	MaxInFlight int
	PerChannel  int
	// Poll is how often the outbox is looked at without a wake-up: for
	// retries coming due and for messages other replicas queued.
	Poll time.Duration

	mu       sync.Mutex
	inflight map[int64]int
	total    int
	wg       sync.WaitGroup
}

// Lease is how long a claimed message belongs to one worker: longer than
// an attempt may take.
const Lease = notify.AttemptTimeout + 5*time.Second

// NewOutbox returns a worker; metrics may be nil.
func NewOutbox(svc *service.Service, log *slog.Logger, n Notifiers, metrics *OutboxMetrics) *Outbox {
	host, _ := os.Hostname()
	return &Outbox{svc: svc, log: log, notifiers: n, metrics: metrics,
		id:          fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8]),
		MaxInFlight: 32, PerChannel: 4, Poll: time.Second, inflight: map[int64]int{}}
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
	free := o.MaxInFlight - o.total
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
		o.total++
		o.mu.Unlock()
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			defer func() {
				o.mu.Lock()
				if o.inflight[d.ChannelID]--; o.inflight[d.ChannelID] <= 0 {
					delete(o.inflight, d.ChannelID)
				}
				o.total--
				o.mu.Unlock()
			}()
			o.send(ctx, d)
		}()
	}
	return len(ds)
}

// send makes one attempt at d and records it.
func (o *Outbox) send(ctx context.Context, d *notify.Delivery) {
	// An attempt runs to its own timeout even when the process is asked
	// to stop: cutting it short would leave the receiver's answer unknown.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notify.AttemptTimeout)
	defer cancel()
	log := o.log.With("delivery", d.ID, "key", d.Key, "channel", d.Channel, "event", d.Event, "incident", d.Incident)
	target, suppress, err := o.svc.PrepareDelivery(actx, d)
	if err != nil {
		log.Warn("outbox: cannot prepare", "err", err)
		return // the lease runs out and it is tried again
	}
	kind := "email"
	if target.Channel != nil {
		kind = string(target.Channel.Type)
	}
	var retryable bool
	var sendErr error
	if suppress == "" {
		msg := d.Message
		if len(target.Recipients) > 0 {
			msg.Recipients = target.Recipients
		}
		msg.Customer = target.Customer
		n, err := o.notifiers(target)
		if err != nil {
			retryable, sendErr = false, err
		} else {
			retryable, sendErr = n.Notify(actx, msg)
		}
	}
	if err := o.svc.FinishDelivery(ctx, d, retryable, sendErr, suppress); err != nil {
		log.Error("outbox: outcome not recorded", "err", err, "sent", sendErr == nil && suppress == "")
		return
	}
	o.metrics.observe(kind, d.State)
	switch d.State {
	case notify.Sent:
		log.Debug("notification sent", "attempts", d.Attempts)
	case notify.Failing:
		log.Info("notification failed, will retry", "attempts", d.Attempts, "next_attempt_at", d.NextAttemptAt, "err", d.LastError)
	case notify.Failed, notify.Dead:
		log.Warn("notification failed for good", "state", d.State, "attempts", d.Attempts, "err", d.LastError)
	case notify.Suppressed:
		log.Info("notification suppressed", "reason", suppress)
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
