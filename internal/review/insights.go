package review

import (
	"math"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// Monitored reports whether an incident detected by s was found by the
// team's monitoring (an alert, an exception in Sentry) rather than by a
// person (a customer, the team, anything else): the insights' "found by
// monitoring before customers".
func Monitored(s incident.Source) bool {
	return s == incident.SourceAlert || s == incident.SourceException
}

// Fact is what the insights read of one incident that counts (the store
// decides which do, in one place: see store.countedIncidents).
type Fact struct {
	Severity  incident.Severity
	Source    incident.Source
	CreatedAt time.Time
	// Mitigated, Resolved and Closed are when the incident last entered
	// each phase; zero when it has not (or a reopen took it back).
	Mitigated, Resolved, Closed time.Time
}

// Times are the incidents of a month or a severity and how long they
// took: from opening to (the last) mitigation, resolution and closing,
// over the incidents that got there.
type Times struct {
	Incidents  int     `json:"incidents"`
	ToMitigate Summary `json:"to_mitigate"`
	ToResolve  Summary `json:"to_resolve"`
	ToClose    Summary `json:"to_close"`
}

// MonthTimes are the Times of the incidents opened in one calendar month
// (UTC), "2026-11".
type MonthTimes struct {
	Month string `json:"month"`
	Times
}

// SeverityTimes are the Times of one severity.
type SeverityTimes struct {
	Severity incident.Severity `json:"severity"`
	Times
}

// Count is how many incidents one service had.
type Count struct {
	Name      string `json:"name"`
	Incidents int    `json:"incidents"`
}

// SourceShare is one detection source's part of the incidents.
type SourceShare struct {
	Source    incident.Source `json:"source"`
	Incidents int             `json:"incidents"`
	Share     float64         `json:"share"`
}

// MonthShare is one month of the "found by monitoring" trend.
type MonthShare struct {
	Month      string  `json:"month"`
	Incidents  int     `json:"incidents"`
	Monitoring int     `json:"monitoring"`
	Share      float64 `json:"monitoring_share"`
}

// Detection is how incidents were found.
type Detection struct {
	Sources []SourceShare `json:"sources"`
	// Monitoring counts the incidents found by monitoring (Monitored);
	// MonitoringShare is their part of all, the headline figure.
	Monitoring      int          `json:"monitoring"`
	MonitoringShare float64      `json:"monitoring_share"`
	ByMonth         []MonthShare `json:"by_month"`
}

// AlertName is one alertname (or, without one, the alert's title) and
// its alerts first seen in the period.
type AlertName struct {
	Name       string `json:"alertname"`
	Alerts     int    `json:"alerts"`
	Unattached int    `json:"unattached"`
}

// AlertFigures relate alerts to incidents over the period.
type AlertFigures struct {
	// Alerts first seen in the period; Attached of them are part of an
	// incident now.
	Alerts   int `json:"alerts"`
	Attached int `json:"attached"`
	// Incidents opened in the period; PerIncident is Alerts/Incidents
	// (0 without incidents).
	Incidents   int         `json:"incidents"`
	PerIncident float64     `json:"alerts_per_incident"`
	Noisiest    []AlertName `json:"noisiest"`
}

// Insights are the figures of a period: the incidents opened in
// [Since, Until).
type Insights struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// PublicOnly is set for anonymous viewers: public incidents only, and
	// no alert figures (alerts are the team's).
	PublicOnly bool            `json:"public_only"`
	Incidents  int             `json:"incidents"`
	ByMonth    []MonthTimes    `json:"by_month"`
	BySeverity []SeverityTimes `json:"by_severity"`
	Services   []Count         `json:"services"`
	Detection  Detection       `json:"detection"`
	// Alerts is nil for anonymous viewers.
	Alerts *AlertFigures `json:"alerts"`
}

// Month names the calendar month of t in UTC.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// Months lists the months of [since, until), oldest first.
func Months(since, until time.Time) []string {
	var out []string
	if !since.Before(until) {
		return out
	}
	last := Month(until.Add(-time.Microsecond))
	for m := time.Date(since.UTC().Year(), since.UTC().Month(), 1, 0, 0, 0, 0, time.UTC); ; m = m.AddDate(0, 1, 0) {
		out = append(out, Month(m))
		if Month(m) == last {
			return out
		}
	}
}

// Percent is a share as a whole percentage, rounded half up: the
// headline's N%.
func Percent(share float64) int { return int(math.Floor(share*100 + 0.5)) }

// durations collects the three times of a group.
type durations struct {
	n                         int
	mitigate, resolve, closed []time.Duration
}

func (d *durations) add(f Fact) {
	d.n++
	for _, x := range []struct {
		at  time.Time
		out *[]time.Duration
	}{{f.Mitigated, &d.mitigate}, {f.Resolved, &d.resolve}, {f.Closed, &d.closed}} {
		if !x.at.IsZero() {
			*x.out = append(*x.out, max(x.at.Sub(f.CreatedAt), 0))
		}
	}
}

func (d *durations) times() Times {
	if d == nil {
		return Times{}
	}
	return Times{Incidents: d.n, ToMitigate: Summarize(d.mitigate), ToResolve: Summarize(d.resolve), ToClose: Summarize(d.closed)}
}

// Builder folds facts into Insights in one pass; memory grows with the
// incidents of the period by three durations each.
type Builder struct {
	in         Insights
	months     map[string]*durations
	severities map[incident.Severity]*durations
	sources    map[incident.Source]int
	monitored  map[string]int
}

// NewBuilder starts the insights of [since, until).
func NewBuilder(since, until time.Time, publicOnly bool) *Builder {
	return &Builder{in: Insights{Since: since.UTC(), Until: until.UTC(), PublicOnly: publicOnly},
		months: map[string]*durations{}, severities: map[incident.Severity]*durations{},
		sources: map[incident.Source]int{}, monitored: map[string]int{}}
}

// Add counts one incident.
func (b *Builder) Add(f Fact) {
	b.in.Incidents++
	m := Month(f.CreatedAt)
	group(b.months, m).add(f)
	group(b.severities, f.Severity).add(f)
	b.sources[f.Source]++
	if Monitored(f.Source) {
		b.monitored[m]++
	}
}

func group[K comparable](m map[K]*durations, k K) *durations {
	d := m[k]
	if d == nil {
		d = &durations{}
		m[k] = d
	}
	return d
}

// Insights returns the figures; services and alerts are the caller's to
// set.
func (b *Builder) Insights() Insights {
	in := b.in
	share := func(n, of int) float64 {
		if of == 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	for _, m := range Months(in.Since, in.Until) {
		in.ByMonth = append(in.ByMonth, MonthTimes{Month: m, Times: b.months[m].times()})
		n := b.months[m].count()
		in.Detection.ByMonth = append(in.Detection.ByMonth, MonthShare{Month: m, Incidents: n, Monitoring: b.monitored[m],
			Share: share(b.monitored[m], n)})
	}
	for _, s := range incident.Severities {
		in.BySeverity = append(in.BySeverity, SeverityTimes{Severity: s, Times: b.severities[s].times()})
	}
	for _, s := range incident.Sources {
		in.Detection.Sources = append(in.Detection.Sources, SourceShare{Source: s, Incidents: b.sources[s], Share: share(b.sources[s], in.Incidents)})
		if Monitored(s) {
			in.Detection.Monitoring += b.sources[s]
		}
	}
	in.Detection.MonitoringShare = share(in.Detection.Monitoring, in.Incidents)
	return in
}

func (d *durations) count() int {
	if d == nil {
		return 0
	}
	return d.n
}
