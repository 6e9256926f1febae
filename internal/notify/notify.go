// Package notify tells people about incidents. A Message is what one
// channel (or one person) receives about one event. It is built once, in
// the transaction of the change that caused it (the outbox), already cut to
// what its audience may see, so a retry a day later sends the same words
// with the same idempotency key.
//
// Each channel type has its own package (slack, email, webhook) with a
// Notifier. Notifiers only send: the outbox worker decides when, retries,
// and records the outcome. They follow one contract, the one Alertmanager's
// notifiers use: Notify returns whether a failure is worth retrying, and
// errors never carry secrets (webhook URLs, passwords).
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event names what happened. The names are part of the webhook contract
// (docs/webhooks.md) and of channel settings: never rename one.
type Event string

// Events a channel may subscribe to.
const (
	Opened         Event = "incident.opened"
	PhaseChanged   Event = "incident.phase_changed"
	Reopened       Event = "incident.reopened"
	UpdatePublic   Event = "incident.update.public"
	UpdateInternal Event = "incident.update.internal"
	OwnerChanged   Event = "incident.owner_changed"
	AlertAttached  Event = "incident.alert_attached"
	AlertsResolved Event = "incident.alerts_resolved"
	ChecklistDone  Event = "incident.checklist_done"
	// Merged and Cancelled end an incident beside closed: a duplicate
	// merged into another, a false alarm.
	Merged    Event = "incident.merged"
	Cancelled Event = "incident.cancelled"
	// Unowned and Stuck are nudges: Quench sends them by itself when an
	// incident waits for someone.
	Unowned Event = "incident.unowned"
	Stuck   Event = "incident.stuck"
	// ReviewAgenda is the weekly review's agenda, sent an hour before
	// the review day's meeting. It is internal: team channels only.
	ReviewAgenda Event = "review.agenda"
	// Test is the sample an admin sends to check a channel.
	Test Event = "test"
)

// Events a person receives by e-mail about their own work; they are not
// channel subscriptions.
const (
	YouOwnPhase           Event = "you.phase_owner"
	YourPhaseEntered      Event = "you.phase_entered"
	YourChecklistAssigned Event = "you.checklist_assigned"
)

// Events a status page's customers receive by e-mail: its subscribers and
// the people who reported a problem. They are not channel subscriptions,
// and they never say more than the status page shows: a published
// incident's customer-facing title, its state and its public updates.
const (
	// StatusConfirm asks a new subscriber to confirm the address; it is
	// the only message an unconfirmed address ever gets.
	StatusConfirm Event = "status.confirm"
	// StatusIncident tells subscribers of a published incident: its
	// publication, a public update, its state changing.
	StatusIncident Event = "status.incident"
	// ReportResolved tells a reporter, once, that the incident their
	// report joined is resolved.
	ReportResolved Event = "report.resolved"
)

// ForCustomers reports whether e goes to a status page's customers rather
// than to the team.
func (e Event) ForCustomers() bool {
	return e == StatusConfirm || e == StatusIncident || e == ReportResolved
}

// labels name the events for people, in chat and e-mail.
var labels = map[Event]string{
	Opened:                "Incident opened",
	PhaseChanged:          "Phase changed",
	Reopened:              "Reopened",
	UpdatePublic:          "Public update",
	UpdateInternal:        "Internal update",
	OwnerChanged:          "Owner changed",
	AlertAttached:         "Alert attached",
	AlertsResolved:        "All alerts resolved",
	ChecklistDone:         "Checklist item done",
	Merged:                "Merged into another incident",
	Cancelled:             "Cancelled",
	Unowned:               "Nobody owns this incident",
	Stuck:                 "Incident stuck",
	ReviewAgenda:          "Weekly review agenda",
	Test:                  "Test message",
	YouOwnPhase:           "You own a phase",
	YourPhaseEntered:      "Your phase began",
	YourChecklistAssigned: "Checklist item for you",
	StatusConfirm:         "Confirm your subscription",
	StatusIncident:        "Status update",
	ReportResolved:        "Your report",
}

// Label names e for people ("Phase changed"); an unknown event is named
// as it is.
func (e Event) Label() string {
	if l, ok := labels[e]; ok {
		return l
	}
	return string(e)
}

// Events lists the events channels subscribe to, in a stable order.
var Events = []Event{Opened, PhaseChanged, Reopened, UpdatePublic, UpdateInternal, OwnerChanged,
	AlertAttached, AlertsResolved, ChecklistDone, Merged, Cancelled, Unowned, Stuck, ReviewAgenda}

// Audience says who reads a channel. A team channel may receive internal
// updates; a public one never receives anything internal, nor anything
// about a confidential incident.
type Audience string

const (
	Team   Audience = "team"
	Public Audience = "public"
)

// PublicEvents are the events a public channel can ever receive: the
// others are internal by nature (alerts, internal updates, nudges).
var PublicEvents = []Event{Opened, PhaseChanged, Reopened, UpdatePublic, OwnerChanged, ChecklistDone, Merged, Cancelled, Test}

// Allows reports whether an audience may receive event e at all.
func (a Audience) Allows(e Event) bool {
	return a == Team || slices.Contains(PublicEvents, e)
}

// ParseEvents reads a channel's event list; "*" means every event the
// audience may see.
func ParseEvents(list []string) ([]Event, error) {
	var out []Event
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "*" {
			return []Event{"*"}, nil
		}
		e := Event(s)
		if !slices.Contains(Events, e) {
			return nil, fmt.Errorf("unknown event %q", s)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return []Event{"*"}, nil
	}
	return out, nil
}

// Incident is what a message says about its incident, as it was when the
// event happened.
type Incident struct {
	Number     int64    `json:"number"`
	Title      string   `json:"title"`
	Phase      string   `json:"phase"`
	Severity   string   `json:"severity"`
	Services   []string `json:"services"`
	Visibility string   `json:"visibility"`
	// Owner is the owner of the current phase, "" when nobody owns it.
	Owner     string    `json:"owner"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"created_at"`
}

// Message is one notification.
type Message struct {
	// ID is the idempotency key: the same for every attempt, sent as
	// webhook-id and as the e-mail's Message-ID.
	ID    string    `json:"id"`
	Event Event     `json:"type"`
	At    time.Time `json:"timestamp"`
	// Actor is who caused the event; "" for Quench itself (nudges, alerts).
	Actor    string   `json:"actor,omitempty"`
	Incident Incident `json:"incident"`
	// Headline is one line for people: "#12 moved to mitigated".
	Headline string `json:"headline"`
	// Body is Markdown written by a person (the note, the update, the
	// reason), or "" when the event has none.
	Body string `json:"body,omitempty"`
	// From and To are the phases of a transition or reopen.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Recipients are the e-mail addresses of a personal message.
	Recipients []string `json:"-"`

	// Instance names the status page in messages to customers.
	Instance string `json:"instance,omitempty"`
	// Customer holds the links of a message to one customer, made when it
	// is sent (they are signed for the address, and not kept in the
	// outbox, where the team reads messages).
	Customer *CustomerLinks `json:"-"`
}

// CustomerLinks are the personal links of a message to a customer.
type CustomerLinks struct {
	// StatusPage is the status page; Confirm confirms a subscription
	// (only in StatusConfirm); Unsubscribe ends it in one click, and is
	// also sent as the List-Unsubscribe header.
	StatusPage, Confirm, Unsubscribe string
}

// Notifier sends messages to one channel.
type Notifier interface {
	// Notify sends m. retryable says whether trying again later may help
	// (timeouts, 408, 429, 5xx, refused connections); a non-retryable
	// failure (any other 4xx, a refused address) fails the message at
	// once. A RetryAfter in err's chain says how long to wait.
	Notify(ctx context.Context, m Message) (retryable bool, err error)
}

// RetryAfterError asks the caller to wait at least After before the next
// attempt (an HTTP Retry-After, an SMTP 4xx greylisting).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the wait a failure asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) && r.After > 0 {
		return r.After, true
	}
	return 0, false
}
