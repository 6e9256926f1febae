package api

import (
	"fmt"
	"net/http"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

func (a *API) openIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createIncidentRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.OpenIncident(r.Context(), p, incident.Draft{
		Title: req.Title, Summary: req.Summary, Severity: req.Severity, Services: req.Services, Labels: req.Labels,
		DetectionSource: req.DetectionSource, Visibility: req.Visibility, Owners: owners(req.Owners),
		Template: req.ChecklistTemplate,
	})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/incidents/%d", inc.Number))
	return http.StatusCreated, a.incidentJSON(inc), nil
}

func (a *API) getIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.Incident(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.incidentJSON(inc), nil
}

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q, err := strictQuery(r, listParams)
	if err != nil {
		return 0, nil, err
	}
	f, err := parseIncidentQuery(q)
	if err != nil {
		return 0, nil, err
	}
	page, err := a.svc.Incidents(r.Context(), p, f)
	if err != nil {
		return 0, nil, err
	}
	list := make([]service.IncidentJSON, len(page.Incidents))
	for i, inc := range page.Incidents {
		list[i] = a.incidentJSON(inc)
	}
	return http.StatusOK, map[string]any{"incidents": list, "total": page.Total, "limit": f.Limit, "offset": f.Offset}, nil
}

func (a *API) patchIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[patchIncidentRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.UpdateIncident(r.Context(), p, n, incident.Patch{
		Title: req.Title, Summary: req.Summary, Severity: req.Severity, Services: req.Services, Labels: req.Labels,
		DetectionSource: req.DetectionSource, Visibility: req.Visibility, Owners: owners(req.Owners),
		DetectionImprovement: req.DetectionImprovement, OnStatusPage: req.OnStatusPage, StatusTitle: req.StatusTitle,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.incidentJSON(inc), nil
}

func (a *API) transition(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[transitionRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	to, err := incident.ParsePhase(req.To)
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.Transition(r.Context(), p, n, incident.TransitionRequest{
		To: to, Note: req.Note, Override: req.Override, DetectionImprovement: req.DetectionImprovement, Reason: req.Reason,
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.incidentJSON(inc), nil
}

type mergeRequest struct {
	Into   int64  `json:"into"`
	Reason string `json:"reason"`
}

// mergeResponse is the merged incident and the one it went into.
type mergeResponse struct {
	Incident service.IncidentJSON `json:"incident"`
	Target   service.IncidentJSON `json:"target"`
	Moved    movedJSON            `json:"moved"`
}

type movedJSON struct {
	Alerts         int64 `json:"alerts"`
	Links          int64 `json:"links"`
	ChecklistItems int64 `json:"checklist_items"`
	Attachments    int64 `json:"attachments"`
}

func (a *API) merge(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[mergeRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	res, err := a.svc.MergeIncident(r.Context(), p, n, req.Into, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	m := res.Moved
	return http.StatusOK, mergeResponse{Incident: a.incidentJSON(res.Incident), Target: a.incidentJSON(res.Target),
		Moved: movedJSON{Alerts: m.Alerts, Links: m.Links, ChecklistItems: m.ChecklistItems, Attachments: m.Attachments}}, nil
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[cancelRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.CancelIncident(r.Context(), p, n, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.incidentJSON(inc), nil
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	entries, err := a.svc.Timeline(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	out := make([]EventJSON, len(entries))
	for i, e := range entries {
		out[i] = EventJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Kind: string(e.Kind), Data: e.Data}
		if out[i].Data == nil {
			out[i].Data = map[string]any{}
		}
		if e.Update != nil {
			u := updateJSON(e.Update)
			out[i].Update = &u
		}
	}
	return http.StatusOK, map[string]any{"events": out}, nil
}
