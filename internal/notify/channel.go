package notify

import (
	"fmt"
	"slices"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// ChannelType names how a channel sends.
type ChannelType string

const (
	Slack   ChannelType = "slack"
	Email   ChannelType = "email"
	Webhook ChannelType = "webhook"
)

// ChannelTypes lists every channel type.
var ChannelTypes = []ChannelType{Slack, Email, Webhook}

// Channel is where notifications go: a Slack incoming webhook, a list of
// e-mail recipients or a signed webhook, with an audience and the events
// and incidents it wants.
type Channel struct {
	ID         int64
	Type       ChannelType
	Name       string
	URL        string   // slack, webhook: a credential, never shown whole
	Recipients []string // email
	Secret     string   // webhook: whsec_…, shown once
	Audience   Audience
	Events     []Event // "*" for every event the audience may receive
	Filter     Filter
	Disabled   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Filter narrows a channel to some incidents. Empty parts match all.
type Filter struct {
	Severities []string `json:"severities,omitempty"`
	Services   []string `json:"services,omitempty"`
	// Labels are matchers in Alertmanager syntax (`team="db"`), all of
	// which must match the incident's labels.
	Labels []string `json:"labels,omitempty"`
}

// Validate checks the filter's matchers.
func (f Filter) Validate() error {
	for _, m := range f.Labels {
		if _, err := alert.ParseMatchers(m); err != nil {
			return fmt.Errorf("label filter %q: %w", m, err)
		}
	}
	return nil
}

// Matches reports whether an incident passes the filter.
func (f Filter) Matches(severity string, services []string, labels map[string]string) bool {
	if len(f.Severities) > 0 && !slices.Contains(f.Severities, severity) {
		return false
	}
	if len(f.Services) > 0 && !slices.ContainsFunc(services, func(s string) bool { return slices.Contains(f.Services, s) }) {
		return false
	}
	for _, m := range f.Labels {
		ms, err := alert.ParseMatchers(m)
		if err != nil {
			return false
		}
		for _, x := range ms {
			if !x.Matches(labels) {
				return false
			}
		}
	}
	return true
}

// Wants reports whether the channel subscribes to e.
func (c *Channel) Wants(e Event) bool {
	if c.Disabled || !c.Audience.Allows(e) {
		return false
	}
	if e == Test {
		return true
	}
	return slices.Contains(c.Events, "*") || slices.Contains(c.Events, e)
}

// State is where a delivery stands.
type State string

const (
	// Pending: not tried yet.
	Pending State = "pending"
	// Failing: tried, will be tried again at NextAttemptAt.
	Failing State = "failing"
	// Sent: the receiver acknowledged it; never sent again.
	Sent State = "sent"
	// Failed: the receiver refused it for good (a 4xx, a bad address);
	// an admin may retry it by hand.
	Failed State = "failed"
	// Dead: retries ran out (after RetryHorizon); an admin may retry it.
	Dead State = "dead"
	// Suppressed: not sent because what it said became internal, or its
	// channel or recipient went away, before it could go out.
	Suppressed State = "suppressed"
)

// Retry policy: exponential backoff from FirstBackoff doubling to
// MaxBackoff, and a message still undelivered RetryHorizon after it was
// created is dead.
const (
	FirstBackoff   = time.Second
	MaxBackoff     = 5 * time.Minute
	RetryHorizon   = 24 * time.Hour
	AttemptTimeout = 10 * time.Second
)

// Backoff is the wait after the n-th failed attempt (n ≥ 1).
func Backoff(n int) time.Duration {
	d := FirstBackoff
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// Delivery is one message to one channel or person, from the outbox.
type Delivery struct {
	ID int64
	// Key is the idempotency key (webhook-id), equal to Message.ID.
	Key       string
	ChannelID int64  // 0 for a personal message
	Channel   string // the channel's name, or the person's user name
	UserID    int64  // the person of a personal message
	Incident  int64  // 0 for a channel test
	Event     Event
	Message   Message
	State     State
	Attempts  int
	// NextAttemptAt is when a pending or failing delivery is due.
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	SentAt        time.Time

	// SubscriberID is the status-page subscriber of a message to one;
	// ReportID the customer report whose reporter a message goes to.
	SubscriberID int64
	ReportID     int64
}
