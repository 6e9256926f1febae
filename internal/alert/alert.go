// Package alert holds the normalized form of a signal from a detector
// (Alertmanager, Grafana, Sentry, a script). Intake adapters turn each
// sender's payload into []Alert; the rest of Quench only sees this shape.
package alert

import "time"

// Status of an alert as the detector reports it. There is no third value:
// adapters refuse states such as "pending" rather than guess.
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Link is a typed reference carried by an alert (Prometheus expression,
// dashboard, panel, silence, runbook, Sentry issue).
type Link struct {
	Kind  string `json:"kind"` // "source", "dashboard", "panel", "silence", "runbook", "exception", "other"
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
}

// Alert is one signal keyed by (integration, Fingerprint).
//
// Every Alert leaving an intake adapter has been through Normalize, so the
// rest of Quench may rely on clean, capped text, a non-empty Fingerprint,
// non-nil maps and UTC times (CheckNormalized lists the guarantees).
type Alert struct {
	// Fingerprint identifies the alert within one integration across
	// re-sends: Alertmanager's and Grafana's fingerprint, the Sentry issue
	// id, or a hash of the labels for generic senders.
	Fingerprint string
	Status      Status
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	EndsAt      time.Time // zero while firing
	// GroupKey ties alerts that belong to one problem (Alertmanager's
	// groupKey, Sentry's issue); rules attach a new alert to the open
	// incident already holding an alert of the same group.
	GroupKey string
	// Title is the human headline: the summary annotation, else the
	// alertname label, else the sender's title.
	Title string
	Links []Link
	// Truncated is how many alerts of its group the sender left out of
	// the delivery that carried this one (Alertmanager's truncatedAlerts,
	// from max_alerts); 0 when it sent the whole group.
	Truncated int
}
