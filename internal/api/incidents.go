package api

import (
	"net/url"
	"slices"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

// incidentJSON is an incident as API v1 writes it.
func (a *API) incidentJSON(inc *incident.Incident) service.IncidentJSON {
	return service.NewIncidentJSON(inc, a.baseURL)
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
	// ChecklistTemplate: "" every matching template, "none", or a name.
	ChecklistTemplate string `json:"checklist_template"`
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

// listParams are the list's query parameters: the incident query's and
// paging; strictQuery refuses others so a typo does not silently widen a
// result.
var listParams = append(slices.Clone(service.IncidentQueryParams), "limit", "offset")

// parseIncidentQuery reads the list's filters and sort as every surface
// does, and its paging.
func parseIncidentQuery(v url.Values) (service.IncidentQuery, error) {
	q, err := service.ParseIncidentQuery(v)
	if err != nil {
		return q, err
	}
	if q.Limit, err = queryInt(v, "limit", 50, 1, service.MaxPageSize); err != nil {
		return q, err
	}
	if q.Offset, err = queryInt(v, "offset", 0, 0, 1<<30); err != nil {
		return q, err
	}
	return q, nil
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
	OnStatusPage         *bool                `json:"on_status_page"`
	StatusTitle          *string              `json:"status_title"`
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
