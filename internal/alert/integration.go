package alert

import (
	"slices"
	"time"
)

// Integration is one sender of alerts: an Alertmanager, a Grafana contact
// point, a Sentry integration or a script. Each has its own intake URL and
// credential, so one can be revoked without touching the others.
type Integration struct {
	ID   string
	Type string // one of Types
	Name string
	// TokenHash is the SHA-256 of the bearer token (Alertmanager, Grafana,
	// generic); the token itself is shown once at creation.
	TokenHash string
	// Secret verifies body signatures: Sentry's client secret, Grafana's
	// optional HMAC secret. Never returned by the API.
	Secret      string
	CreatedBy   string
	CreatedAt   time.Time
	LastAlertAt time.Time
}

// Integration types.
const (
	TypeAlertmanager = "alertmanager"
	TypeGrafana      = "grafana"
	TypeSentry       = "sentry"
	TypeGeneric      = "generic"
)

// TypeReport is the built-in source of customers' reports from the status
// page: one integration, id "report", that no sender can post to.
const TypeReport = "report"

// TypeHeartbeat is the built-in source of heartbeat alerts: one
// integration, id "heartbeat", that no sender can post to.
const TypeHeartbeat = "heartbeat"

// Types lists every integration type a sender may post to.
var Types = []string{TypeAlertmanager, TypeGrafana, TypeSentry, TypeGeneric}

// ValidType reports whether t is an integration type.
func ValidType(t string) bool { return slices.Contains(Types, t) }

// Record is an alert as stored: the latest state of (integration,
// fingerprint) and the incident it belongs to, if any.
type Record struct {
	Alert
	ID            int64
	IntegrationID string
	FirstSeen     time.Time
	LastSeen      time.Time
	// Received counts deliveries, re-sends included.
	Received int64
	Incident int64 // 0: in the inbox
	Triage
}

// Triage is what people decided about an alert in the inbox. It holds
// until the alert resolves and fires again: then it is a new problem.
type Triage struct {
	// AckedBy acknowledged the alert at AckedAt: someone is on it.
	AckedBy string
	AckedAt time.Time
	// DismissedBy said at DismissedAt that the alert is not an incident,
	// for DismissReason; the inbox's default view leaves it out.
	DismissedBy   string
	DismissedAt   time.Time
	DismissReason string
}

// Dismissed reports whether the alert is dismissed.
func (t Triage) Dismissed() bool { return !t.DismissedAt.IsZero() }

// Acked reports whether the alert is acknowledged.
func (t Triage) Acked() bool { return !t.AckedAt.IsZero() }
