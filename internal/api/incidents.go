package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
)

// IncidentJSON is the incident shape of API v1.
type IncidentJSON struct {
	Number               int64                `json:"number"`
	Title                string               `json:"title"`
	Summary              string               `json:"summary"`
	Severity             incident.Severity    `json:"severity"`
	Services             []string             `json:"services"`
	Labels               map[string]string    `json:"labels"`
	DetectionSource      incident.Source      `json:"detection_source"`
	Visibility           incident.Visibility  `json:"visibility"`
	Phase                incident.Phase       `json:"phase"`
	Owners               map[string]string    `json:"owners"`
	PhaseEnteredAt       map[string]time.Time `json:"phase_entered_at"`
	PhaseNotes           map[string]string    `json:"phase_notes"`
	DetectionImprovement string               `json:"detection_improvement,omitempty"`
	AlertsResolved       bool                 `json:"alerts_resolved"`
	CreatedBy            string               `json:"created_by"`
	CreatedAt            time.Time            `json:"created_at"`
	UpdatedAt            time.Time            `json:"updated_at"`
	URL                  string               `json:"url"`
}

func (a *API) incidentJSON(inc *incident.Incident) IncidentJSON {
	j := IncidentJSON{
		Number: inc.Number, Title: inc.Title, Summary: inc.Summary, Severity: inc.Severity,
		Services: inc.Services, Labels: inc.Labels, DetectionSource: inc.DetectionSource,
		Visibility: inc.Visibility, Phase: inc.Phase, Owners: map[string]string{},
		PhaseEnteredAt: map[string]time.Time{}, PhaseNotes: map[string]string{},
		DetectionImprovement: inc.DetectionImprovement, AlertsResolved: inc.AlertsResolved,
		CreatedBy: inc.CreatedBy, CreatedAt: inc.CreatedAt.UTC(), UpdatedAt: inc.UpdatedAt.UTC(),
		URL: fmt.Sprintf("%s/incidents/%d", a.baseURL, inc.Number),
	}
	if j.Services == nil {
		j.Services = []string{}
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	for p, u := range inc.Owners {
		j.Owners[string(p)] = u
	}
	for p, t := range inc.EnteredAt {
		j.PhaseEnteredAt[string(p)] = t.UTC()
	}
	for p, n := range inc.Notes {
		j.PhaseNotes[string(p)] = n
	}
	return j
}

type createIncidentRequest struct {
	Title           string              `json:"title"`
	Summary         string              `json:"summary"`
	Severity        incident.Severity   `json:"severity"`
	Services        []string            `json:"services"`
	Labels          map[string]string   `json:"labels"`
	DetectionSource incident.Source     `json:"detection_source"`
	Visibility      incident.Visibility `json:"visibility"`
	Owners          map[string]string   `json:"owners"`
}

func owners(m map[string]string) map[incident.Phase]string {
	if m == nil {
		return nil
	}
	out := make(map[incident.Phase]string, len(m))
	for k, v := range m {
		out[incident.Phase(k)] = v
	}
	return out
}

var listParams = []string{"phase", "service", "severity", "owner", "label", "q", "sort", "limit", "offset"}

// parseIncidentFilter reads list filters; unknown parameters are refused so
// a typo does not silently widen a result.
func parseIncidentFilter(q url.Values) (store.IncidentFilter, error) {
	var f store.IncidentFilter
	for _, v := range q["phase"] {
		for _, s := range strings.Split(v, ",") {
			p, err := incident.ParsePhase(strings.TrimSpace(s))
			if err != nil {
				return f, err
			}
			f.Phases = append(f.Phases, p)
		}
	}
	f.Service, f.Owner, f.Query, f.Sort = q.Get("service"), q.Get("owner"), q.Get("q"), q.Get("sort")
	if s := q.Get("severity"); s != "" {
		if !slices.Contains(incident.Severities, incident.Severity(s)) {
			return f, problem.Invalidf("unknown severity %q", s)
		}
		f.Severity = incident.Severity(s)
	}
	if l := q.Get("label"); l != "" {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return f, problem.Invalidf("label filter must look like name=value")
		}
		f.Label = [2]string{k, v}
	}
	if _, ok := store.SortOrders[f.Sort]; !ok {
		return f, problem.Invalidf("unknown sort %q: use number, updated, created or severity, with - for descending", f.Sort)
	}
	var err error
	if f.Limit, err = queryInt(q, "limit", 50, 1, service.MaxPageSize); err != nil {
		return f, err
	}
	if f.Offset, err = queryInt(q, "offset", 0, 0, 1<<30); err != nil {
		return f, err
	}
	return f, nil
}

type patchIncidentRequest struct {
	Title                *string              `json:"title"`
	Summary              *string              `json:"summary"`
	Severity             *incident.Severity   `json:"severity"`
	Services             *[]string            `json:"services"`
	Labels               *map[string]string   `json:"labels"`
	DetectionSource      *incident.Source     `json:"detection_source"`
	Visibility           *incident.Visibility `json:"visibility"`
	Owners               map[string]string    `json:"owners"`
	DetectionImprovement *string              `json:"detection_improvement"`
}

type transitionRequest struct {
	To                   string `json:"to"`
	Note                 string `json:"note"`
	Override             bool   `json:"override"`
	DetectionImprovement string `json:"detection_improvement"`
	Reason               string `json:"reason"`
}

// EventJSON is one timeline entry.
type EventJSON struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Kind   string         `json:"kind"`
	Data   map[string]any `json:"data"`
	Update *UpdateJSON    `json:"update,omitempty"`
}
