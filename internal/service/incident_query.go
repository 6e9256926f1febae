package service

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// IncidentQuery selects incidents for the API's list, the incident log and
// its exports, and the board. Every surface reads it from its query string
// with ParseIncidentQuery, so a filter means the same and is refused the
// same way wherever it is typed; the service adds what the viewer may see
// and turns it into the store's filter.
type IncidentQuery struct {
	// Phases, when set, keeps incidents in one of them.
	Phases   []incident.Phase
	Service  string
	Severity incident.Severity
	// Owner is the owner of the current phase; "none" selects incidents
	// that are not closed and whose current phase nobody owns.
	Owner string
	// Label is a label's name and value; an empty name is no filter.
	Label [2]string
	// Text is searched in titles, summaries and the updates the viewer may
	// read; "42" or "#42" also finds incident 42.
	Text string
	// Source is the detection source.
	Source incident.Source
	// From and To keep the incidents opened in [From, To); zero is
	// open-ended. A date in the query string is a whole UTC day, so
	// to=2026-11-30 keeps incidents opened up to the end of that day.
	From, To time.Time
	// Sort is number, updated, created or severity, with a leading "-"
	// for descending; "" is newest number first.
	Sort string
	// State selects by end state: "" any, "live" neither merged nor
	// cancelled, "ended" either, "merged" or "cancelled". A phase filter
	// keeps live incidents only.
	State string
	// Limit and Offset page a list; each surface sets them its own way
	// (the API from limit and offset, the log page from its links).
	Limit, Offset int
}

// IncidentQueryParams are the query parameters ParseIncidentQuery reads.
var IncidentQueryParams = []string{"phase", "service", "severity", "owner", "label", "q", "sort", "source", "from", "to", "state"}

// IncidentStates are the values of the state filter.
var IncidentStates = []string{"live", "ended", string(incident.Merged), string(incident.Cancelled)}

// ParseIncidentQuery reads an incident query's filters and sort; paging is
// the caller's. An empty parameter is no filter, which is what an HTML
// form's "any" sends. An unknown phase is 400 invalid_phase; another bad
// value is 400 invalid_request.
func ParseIncidentQuery(v url.Values) (IncidentQuery, error) {
	var q IncidentQuery
	for _, list := range v["phase"] {
		if list == "" {
			continue
		}
		for _, s := range strings.Split(list, ",") {
			p, err := incident.ParsePhase(strings.TrimSpace(s))
			if err != nil {
				return q, err
			}
			q.Phases = append(q.Phases, p)
		}
	}
	q.Service, q.Owner, q.Text, q.Sort = v.Get("service"), v.Get("owner"), v.Get("q"), v.Get("sort")
	if s := v.Get("severity"); s != "" {
		if !slices.Contains(incident.Severities, incident.Severity(s)) {
			return q, problem.Invalidf("unknown severity %q", s)
		}
		q.Severity = incident.Severity(s)
	}
	if l := v.Get("label"); l != "" {
		k, val, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return q, problem.Invalidf("label filter must look like name=value")
		}
		q.Label = [2]string{k, val}
	}
	if _, ok := store.SortOrders[q.Sort]; !ok {
		return q, problem.Invalidf("unknown sort %q: use number, updated, created or severity, with - for descending", q.Sort)
	}
	if s := v.Get("source"); s != "" {
		if !slices.Contains(incident.Sources, incident.Source(s)) {
			return q, problem.Invalidf("unknown detection source %q: use alert, exception, customer, team or other", s)
		}
		q.Source = incident.Source(s)
	}
	if st := v.Get("state"); st != "" {
		if !slices.Contains(IncidentStates, st) {
			return q, problem.Invalidf("unknown state %q: use live, ended, merged or cancelled", st)
		}
		q.State = st
	}
	var err error
	if q.From, err = ParseDay(v.Get("from"), false); err != nil {
		return q, err
	}
	if q.To, err = ParseDay(v.Get("to"), true); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, problem.Invalidf("from must be before to")
	}
	return q, nil
}

// ParseDay reads a period's bound: an RFC 3339 time, or a date
// (2026-11-30) meaning the start of that UTC day, or with end set its end
// (the start of the next day), so that "to" a date includes that day. ""
// is the zero time: no bound.
func ParseDay(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, problem.Invalidf("%q is not a date (2026-11-30) or an RFC 3339 time", s)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// filter is the store's filter for q; publicOnly leaves out what a viewer
// may not see.
func (q IncidentQuery) filter(publicOnly bool) store.IncidentFilter {
	return store.IncidentFilter{
		Phases: q.Phases, Service: q.Service, Severity: q.Severity, Owner: q.Owner, Label: q.Label, Query: q.Text,
		Sort: q.Sort, Limit: q.Limit, Offset: q.Offset, PublicOnly: publicOnly,
		Source: q.Source, OpenedFrom: q.From, OpenedBefore: q.To, End: q.State,
	}
}
