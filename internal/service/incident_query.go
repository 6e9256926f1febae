package service

import (
	"net/url"
	"slices"
	"strings"

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
	// Sort is number, updated, created or severity, with a leading "-"
	// for descending; "" is newest number first.
	Sort string
	// Limit and Offset page a list; each surface sets them its own way
	// (the API from limit and offset, the log page from its links).
	Limit, Offset int
}

// IncidentQueryParams are the query parameters ParseIncidentQuery reads.
var IncidentQueryParams = []string{"phase", "service", "severity", "owner", "label", "q", "sort"}

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
	return q, nil
}

// filter is the store's filter for q; publicOnly leaves out what a viewer
// may not see.
func (q IncidentQuery) filter(publicOnly bool) store.IncidentFilter {
	return store.IncidentFilter{
		Phases: q.Phases, Service: q.Service, Severity: q.Severity, Owner: q.Owner, Label: q.Label, Query: q.Text,
		Sort: q.Sort, Limit: q.Limit, Offset: q.Offset, PublicOnly: publicOnly,
	}
}
