package status

import (
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// HistoryDays is how far back the page's history goes.
const HistoryDays = 90

// Settings are the status page's own, set by admins.
type Settings struct {
	// Name is the instance's name, the page's title.
	Name string
	// LogoURL is an optional https image shown with the name.
	LogoURL string
	// OrgURL links to the organisation's own site.
	OrgURL string
	// AutoPublishCritical publishes critical public incidents as they
	// are opened (or become critical).
	AutoPublishCritical bool
	UpdatedAt           time.Time
}

// DefaultName is the page's title until an admin names it.
const DefaultName = "Service status"

// Input is everything a page is computed from.
type Input struct {
	Settings   Settings
	Components []*Component
	// Incidents are the published incidents that are open or touched
	// the history window.
	Incidents   []*Incident
	Maintenance []*Maintenance
	Now         time.Time
}

// Page is the status page's content. It depends on the time only through
// the day and the maintenance under way, so it stays the same (and so does
// its ETag) until the data changes or Expires passes.
type Page struct {
	Settings Settings
	// Overall is the worst state of anything on the page.
	Overall State
	Groups  []Group
	// Components in page order, also within Groups.
	Components []*ComponentView
	// Open are the open published incidents, newest first.
	Open []*Incident
	// Maintenance is planned work in progress or ahead, soonest first;
	// InProgress says which has begun.
	Maintenance []*Maintenance
	InProgress  map[int64]bool
	// Days are the history's days (UTC midnights), oldest first.
	Days []time.Time
	// Past are the days with incidents that are over, newest first.
	Past []PastDay
	// Updated is the newest change to anything shown.
	Updated time.Time
	// Expires is when the page must be computed again even if nothing
	// changed: the next day, or the start or end of planned work.
	Expires time.Time
}

// Group is a heading with its components; Name is "" for components
// without a group.
type Group struct {
	Name       string
	Components []*ComponentView
}

// ComponentView is a component on the page.
type ComponentView struct {
	*Component
	State State
	// History has one entry per day of Days.
	History []Day
}

// Day is one day of a component's history: the worst state it was in and
// the incidents that touched it.
type Day struct {
	Date      time.Time
	State     State
	Incidents []*Incident
}

// PastDay lists the incidents over that began on Date.
type PastDay struct {
	Date      time.Time
	Incidents []*Incident
}

// AllOperational reports whether nothing is wrong.
func (p *Page) AllOperational() bool { return p.Overall == Operational }

// Build computes the page.
func Build(in Input) *Page {
	now := in.Now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	first := today.AddDate(0, 0, -(HistoryDays - 1))
	p := &Page{Settings: in.Settings, Overall: Operational, InProgress: map[int64]bool{}, Expires: today.AddDate(0, 0, 1)}
	if p.Settings.Name == "" {
		p.Settings.Name = DefaultName
	}
	for i := range HistoryDays {
		p.Days = append(p.Days, first.AddDate(0, 0, i))
	}
	p.Updated = in.Settings.UpdatedAt

	incidents := slices.Clone(in.Incidents)
	slices.SortFunc(incidents, func(a, b *Incident) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, inc := range incidents {
		if inc.Open() {
			p.Open = append(p.Open, inc)
			p.Overall = Worse(p.Overall, inc.State())
		}
		for _, t := range []time.Time{inc.Started, inc.Mitigated, inc.Resolved, inc.PublishedAt} {
			p.Updated = latest(p.Updated, t)
		}
		for _, u := range inc.Updates {
			p.Updated = latest(p.Updated, u.At)
		}
	}
	p.Past = pastDays(incidents, first)

	for _, m := range in.Maintenance {
		p.Updated = latest(p.Updated, m.CreatedAt)
		if !m.End.After(now) {
			continue
		}
		p.Maintenance = append(p.Maintenance, m)
		if m.InProgress(now) {
			p.InProgress[m.ID] = true
			p.Overall = Worse(p.Overall, UnderMaint)
			p.Expires = earliest(p.Expires, m.End)
		} else {
			p.Expires = earliest(p.Expires, m.Start)
		}
	}
	slices.SortStableFunc(p.Maintenance, func(a, b *Maintenance) int { return a.Start.Compare(b.Start) })

	comps := slices.Clone(in.Components)
	Sort(comps)
	// Which incidents touch which component, through their services: one
	// pass over the incidents, not one per component.
	byService := map[string][]int{}
	for k, c := range comps {
		for _, svc := range c.Services {
			byService[svc] = append(byService[svc], k)
		}
	}
	touching := make([][]*Incident, len(comps))
	for _, inc := range incidents {
		for _, svc := range inc.Services {
			for _, k := range byService[svc] {
				// Two services of one component: the incident once.
				if t := touching[k]; len(t) == 0 || t[len(t)-1] != inc {
					touching[k] = append(t, inc)
				}
			}
		}
	}
	for k, c := range comps {
		p.Updated = latest(p.Updated, c.UpdatedAt)
		v := &ComponentView{Component: c, State: ComponentState(c, touching[k], in.Maintenance, now), History: make([]Day, HistoryDays)}
		for i, d := range p.Days {
			v.History[i] = Day{Date: d, State: Operational}
		}
		for _, inc := range touching[k] {
			mark(v.History, first, inc, now)
		}
		p.Overall = Worse(p.Overall, v.State)
		p.Components = append(p.Components, v)
		if n := len(p.Groups); n > 0 && p.Groups[n-1].Name == c.Group {
			p.Groups[n-1].Components = append(p.Groups[n-1].Components, v)
			continue
		}
		if i := slices.IndexFunc(p.Groups, func(g Group) bool { return g.Name == c.Group }); i >= 0 {
			p.Groups[i].Components = append(p.Groups[i].Components, v)
			continue
		}
		p.Groups = append(p.Groups, Group{Name: c.Group, Components: []*ComponentView{v}})
	}
	return p
}

// mark records inc in the days it touched: its impact from its start to
// its mitigation (or to now while active), then monitoring until it was
// resolved (or to now while mitigated).
func mark(days []Day, first time.Time, inc *Incident, now time.Time) {
	impactEnd := firstSet(inc.Mitigated, inc.Resolved)
	if impactEnd.IsZero() {
		impactEnd = inc.Started
		if inc.Phase == incident.Active {
			impactEnd = now
		}
	}
	span(days, first, inc.Started, impactEnd, Impact(inc.Severity), inc)
	if !inc.Mitigated.IsZero() {
		end := inc.Resolved
		if end.IsZero() {
			end = inc.Mitigated
			if inc.Phase == incident.Mitigated {
				end = now
			}
		}
		span(days, first, inc.Mitigated, end, Monitoring, inc)
	}
}

// span marks the days from start to end (inclusive of the day end falls
// in, unless it is exactly midnight after a non-empty span).
func span(days []Day, first, start, end time.Time, st State, inc *Incident) {
	if end.Before(start) {
		end = start
	}
	from := dayIndex(first, start)
	to := dayIndex(first, end)
	if end.After(start) && end.Equal(first.AddDate(0, 0, to)) {
		to-- // ended exactly at midnight: the next day was untouched
	}
	for i := max(from, 0); i <= to && i < len(days); i++ {
		days[i].State = Worse(days[i].State, st)
		if !slices.Contains(days[i].Incidents, inc) {
			days[i].Incidents = append(days[i].Incidents, inc)
		}
	}
}

func dayIndex(first, t time.Time) int {
	d := t.UTC().Sub(first)
	if d < 0 {
		return -1 - int(-d/(24*time.Hour))
	}
	return int(d / (24 * time.Hour))
}

// pastDays groups the incidents that are over and began in the window (or
// lasted into it) by the day they began, newest first.
func pastDays(sorted []*Incident, first time.Time) []PastDay {
	var out []PastDay
	for _, inc := range sorted {
		if inc.Open() {
			continue
		}
		end := latest(latest(inc.Started, inc.Mitigated), inc.Resolved)
		if end.Before(first) {
			continue
		}
		s := inc.Started.UTC()
		day := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
		if n := len(out); n > 0 && out[n-1].Date.Equal(day) {
			out[n-1].Incidents = append(out[n-1].Incidents, inc)
			continue
		}
		out = append(out, PastDay{Date: day, Incidents: []*Incident{inc}})
	}
	return out
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
