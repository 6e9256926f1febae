// Package status is what a status page shows customers, computed from
// what the team published: the state of each component, the open
// incidents, planned maintenance and 90 days of history. It is pure (no
// I/O, no clock of its own): the service loads published incidents and
// hands them over with the time, so every rule here is a table test.
//
// Only published incidents ever reach this package, as Incident values
// that carry nothing but what customers may read: the customer-facing
// title, severity, phase, times, the services that map to components and
// the public updates. Incident numbers stay with the team; customers know
// an incident by its public ID.
package status

import (
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// State is how a component is doing, for customers.
type State string

// States, from best to worst.
const (
	Operational   State = "operational"
	UnderMaint    State = "maintenance"
	Monitoring    State = "monitoring"
	Degraded      State = "degraded_performance"
	PartialOutage State = "partial_outage"
	MajorOutage   State = "major_outage"
)

// States lists every state from best to worst.
var States = []State{Operational, UnderMaint, Monitoring, Degraded, PartialOutage, MajorOutage}

// Rank orders states: higher is worse.
func (s State) Rank() int { return slices.Index(States, s) }

// Label names the state for people.
func (s State) Label() string {
	switch s {
	case Operational:
		return "Operational"
	case UnderMaint:
		return "Under maintenance"
	case Monitoring:
		return "Monitoring"
	case Degraded:
		return "Degraded performance"
	case PartialOutage:
		return "Partial outage"
	case MajorOutage:
		return "Major outage"
	}
	return string(s)
}

// Worse returns the worse of two states.
func Worse(a, b State) State {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Impact is the state an incident of severity sev puts its components in
// while it is active: critical is a major outage, major a partial one,
// minor degraded performance.
func Impact(sev incident.Severity) State {
	switch sev {
	case incident.Critical:
		return MajorOutage
	case incident.Major:
		return PartialOutage
	}
	return Degraded
}

// IncidentState is what a published incident means for its components
// now: its impact while active, monitoring once mitigated, nothing once
// resolved or closed.
func IncidentState(sev incident.Severity, ph incident.Phase) State {
	switch ph {
	case incident.Active:
		return Impact(sev)
	case incident.Mitigated:
		return Monitoring
	}
	return Operational
}

// Component is what customers see of a part of the service; it maps to the
// team's services.
type Component struct {
	ID          int64
	Name        string
	Description string
	// Group gathers components under a heading ("" for none).
	Group string
	// Position orders components (then groups by their first component):
	// smaller first, then by name.
	Position  int
	Services  []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Affects reports whether an incident on services touches the component.
func (c *Component) Affects(services []string) bool {
	for _, s := range services {
		if slices.Contains(c.Services, s) {
			return true
		}
	}
	return false
}

// Incident is a published incident as customers see it.
type Incident struct {
	// ID is the public ID (the number stays with the team).
	ID       string
	Title    string
	Severity incident.Severity
	Phase    incident.Phase
	Services []string
	// Started is when the incident was opened; Mitigated and Resolved
	// when it entered those phases (zero if not, or not since a reopen).
	Started, Mitigated, Resolved time.Time
	PublishedAt                  time.Time
	// Updates are the public updates, newest first.
	Updates []Update
	// Ended is set for an incident that was merged into another or
	// cancelled: customers read it as resolved (Resolved is when it
	// ended) with its last public update. MergedInto is the public ID of
	// the incident a merged one went into, and MergedIntoTitle its
	// title, when customers see that one too; "" otherwise, and the
	// page then says only that it continues in another incident.
	Ended                       incident.EndState
	MergedInto, MergedIntoTitle string
}

// Update is a public update.
type Update struct {
	ID   int64
	Body string // Markdown
	At   time.Time
}

// State is what the incident means for its components now.
func (i *Incident) State() State { return IncidentState(i.Severity, i.Phase) }

// Open reports whether the incident still touches customers: active, or
// mitigated and being watched.
func (i *Incident) Open() bool { return i.Phase == incident.Active || i.Phase == incident.Mitigated }

// Maintenance is planned work announced ahead of time.
type Maintenance struct {
	ID         int64
	Title      string
	Body       string // Markdown
	Start, End time.Time
	// Components are the IDs of the components it touches; none means all.
	Components []int64
	CreatedBy  string
	CreatedAt  time.Time
}

// InProgress reports whether the work is under way at now.
func (m *Maintenance) InProgress(now time.Time) bool {
	return !now.Before(m.Start) && now.Before(m.End)
}

// Touches reports whether the work touches component id.
func (m *Maintenance) Touches(id int64) bool {
	return len(m.Components) == 0 || slices.Contains(m.Components, id)
}

// ComponentState is the state of c at now: the worst of the open published
// incidents that touch it; with none, under maintenance while planned work
// on it is in progress; else operational.
func ComponentState(c *Component, incidents []*Incident, maint []*Maintenance, now time.Time) State {
	st := Operational
	for _, inc := range incidents {
		if inc.Open() && c.Affects(inc.Services) {
			st = Worse(st, inc.State())
		}
	}
	if st == Operational {
		for _, m := range maint {
			if m.InProgress(now) && m.Touches(c.ID) {
				return UnderMaint
			}
		}
	}
	return st
}

// Sort orders components for the page: by position, then name.
func Sort(cs []*Component) {
	slices.SortStableFunc(cs, func(a, b *Component) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Subscriber is an e-mail address that asked for the page's updates.
type Subscriber struct {
	ID    int64
	Email string
	// Components are the IDs the subscriber follows; none means all.
	Components    []int64
	CreatedAt     time.Time
	ConfirmSentAt time.Time
	// ConfirmedAt is zero until the address was confirmed (double
	// opt-in): until then it gets nothing but the confirmation.
	ConfirmedAt time.Time
}
