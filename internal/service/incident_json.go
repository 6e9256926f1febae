package service

import (
	"fmt"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// IncidentJSON is the one JSON shape of an incident. API v1 answers with it
// (Incident in docs/openapi.yaml), the incident log's JSON export lists it
// and the CLI reads it, so whoever reads an incident from Quench reads the
// same fields. It lives here, below both api and web, because both write
// it.
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
	// EndState is "cancelled" or "merged" for an incident that ended
	// beside closed, null otherwise; phase is then the phase it was left
	// in.
	EndState  *incident.EndState `json:"end_state"`
	EndedAt   *time.Time         `json:"ended_at,omitempty"`
	EndReason string             `json:"end_reason,omitempty"`
	// MergedInto is the incident it was merged into; absent for a viewer
	// when that incident is confidential.
	MergedInto int64 `json:"merged_into,omitempty"`

	// OnStatusPage says whether the incident is published to the status
	// page; StatusTitle is the title customers read there ("": Title).
	OnStatusPage bool       `json:"on_status_page"`
	StatusTitle  string     `json:"status_title"`
	PublishedAt  *time.Time `json:"published_at,omitempty"`
}

// NewIncidentJSON shapes inc; baseURL makes its url absolute. Empty lists
// and maps are written as [] and {}, never null, and times are UTC.
func NewIncidentJSON(inc *incident.Incident, baseURL string) IncidentJSON {
	j := IncidentJSON{
		Number: inc.Number, Title: inc.Title, Summary: inc.Summary, Severity: inc.Severity,
		Services: inc.Services, Labels: inc.Labels, DetectionSource: inc.DetectionSource,
		Visibility: inc.Visibility, Phase: inc.Phase, Owners: map[string]string{},
		PhaseEnteredAt: map[string]time.Time{}, PhaseNotes: map[string]string{},
		DetectionImprovement: inc.DetectionImprovement, AlertsResolved: inc.AlertsResolved,
		CreatedBy: inc.CreatedBy, CreatedAt: inc.CreatedAt.UTC(), UpdatedAt: inc.UpdatedAt.UTC(),
		URL:          fmt.Sprintf("%s/incidents/%d", baseURL, inc.Number),
		OnStatusPage: inc.OnStatusPage, StatusTitle: inc.StatusTitle,
	}
	if !inc.PublishedAt.IsZero() {
		t := inc.PublishedAt.UTC()
		j.PublishedAt = &t
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
	if inc.Ended() {
		st, at := inc.EndState, inc.EndedAt.UTC()
		j.EndState, j.EndedAt, j.EndReason, j.MergedInto = &st, &at, inc.EndReason, inc.MergedInto
	}
	return j
}
