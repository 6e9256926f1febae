package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

// UpdateJSON is an update of API v1.
type UpdateJSON struct {
	ID         int64               `json:"id"`
	Incident   int64               `json:"incident"`
	Author     string              `json:"author"`
	Body       string              `json:"body"`
	Visibility incident.Visibility `json:"visibility"`
	CreatedAt  time.Time           `json:"created_at"`
	UpdatedAt  time.Time           `json:"updated_at"`
}

func updateJSON(u *incident.Update) UpdateJSON {
	return UpdateJSON{ID: u.ID, Incident: u.Incident, Author: u.Author, Body: u.Body, Visibility: u.Visibility,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// ChecklistItemJSON is a checklist item of API v1.
type ChecklistItemJSON struct {
	ID        int64          `json:"id"`
	Text      string         `json:"text"`
	Phase     incident.Phase `json:"phase"`
	Owner     string         `json:"owner,omitempty"`
	Done      bool           `json:"done"`
	DoneBy    string         `json:"done_by,omitempty"`
	DoneAt    *time.Time     `json:"done_at,omitempty"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	// Visibility is internal (the default) or public.
	Visibility incident.Visibility `json:"visibility"`
}

func itemJSON(it *incident.ChecklistItem) ChecklistItemJSON {
	j := ChecklistItemJSON{ID: it.ID, Text: it.Text, Phase: it.Phase, Owner: it.Owner, Done: it.Done, DoneBy: it.DoneBy,
		CreatedBy: it.CreatedBy, CreatedAt: it.CreatedAt.UTC(), Visibility: it.Visibility}
	if !it.DoneAt.IsZero() {
		t := it.DoneAt.UTC()
		j.DoneAt = &t
	}
	return j
}

// LinkJSON is a link of API v1.
type LinkJSON struct {
	ID        int64             `json:"id"`
	Kind      incident.LinkKind `json:"kind"`
	URL       string            `json:"url"`
	Title     string            `json:"title"`
	CreatedBy string            `json:"created_by"`
	CreatedAt time.Time         `json:"created_at"`
	// Visibility is internal (the default) or public.
	Visibility incident.Visibility `json:"visibility"`
}

func linkJSON(l *incident.Link) LinkJSON {
	return LinkJSON{ID: l.ID, Kind: l.Kind, URL: l.URL, Title: l.Title, CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt.UTC(),
		Visibility: l.Visibility}
}

func mapAll[T, J any](in []*T, f func(*T) J) []J {
	out := make([]J, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// numbers reads {number} and, when name is set, a second numeric path value.
func numbers(r *http.Request, name string) (int64, int64, error) {
	n, err := pathInt(r, "number")
	if err != nil || name == "" {
		return n, 0, err
	}
	id, err := pathInt(r, name)
	return n, id, err
}

func (a *API) listUpdates(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Updates(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"updates": mapAll(list, updateJSON)}, nil
}

type postUpdateRequest struct {
	Body       string              `json:"body"`
	Visibility incident.Visibility `json:"visibility"`
}

func (a *API) postUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[postUpdateRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	u, err := a.svc.PostUpdate(r.Context(), p, n, req.Body, req.Visibility)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/incidents/%d/updates/%d", n, u.ID))
	return http.StatusCreated, updateJSON(u), nil
}

type patchUpdateRequest struct {
	Visibility incident.Visibility `json:"visibility"`
}

func (a *API) patchUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, id, err := numbers(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[patchUpdateRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	u, err := a.svc.SetUpdateVisibility(r.Context(), p, n, id, req.Visibility)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, updateJSON(u), nil
}

func (a *API) listChecklist(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Checklist(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"checklist": mapAll(list, itemJSON)}, nil
}

type checklistRequest struct {
	Text       string              `json:"text"`
	Phase      incident.Phase      `json:"phase"`
	Owner      string              `json:"owner"`
	Visibility incident.Visibility `json:"visibility"`
}

func (a *API) addChecklistItem(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[checklistRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	it, err := a.svc.AddChecklistItem(r.Context(), p, n, service.NewChecklistItem{Text: req.Text, Phase: req.Phase, Owner: req.Owner,
		Visibility: req.Visibility})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, itemJSON(it), nil
}

type patchChecklistRequest struct {
	Done       *bool                `json:"done"`
	Owner      *string              `json:"owner"`
	Text       *string              `json:"text"`
	Visibility *incident.Visibility `json:"visibility"`
}

func (a *API) patchChecklistItem(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, id, err := numbers(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[patchChecklistRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	it, err := a.svc.ChangeChecklistItem(r.Context(), p, n, id, service.ChecklistPatch{Done: req.Done, Owner: req.Owner, Text: req.Text,
		Visibility: req.Visibility})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, itemJSON(it), nil
}

func (a *API) deleteChecklistItem(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, id, err := numbers(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.RemoveChecklistItem(r.Context(), p, n, id)
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Links(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"links": mapAll(list, linkJSON)}, nil
}

type linkRequest struct {
	Kind       incident.LinkKind   `json:"kind"`
	URL        string              `json:"url"`
	Title      string              `json:"title"`
	Visibility incident.Visibility `json:"visibility"`
}

func (a *API) addLink(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, _, err := numbers(r, "")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[linkRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	l, err := a.svc.AddLink(r.Context(), p, n, service.NewLink{Kind: req.Kind, URL: req.URL, Title: req.Title, Visibility: req.Visibility})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, linkJSON(l), nil
}

func (a *API) patchLink(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, id, err := numbers(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[linkPatchRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	l, err := a.svc.SetLinkVisibility(r.Context(), p, n, id, incident.Visibility(req.Visibility))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, linkJSON(l), nil
}

func (a *API) deleteLink(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, id, err := numbers(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.RemoveLink(r.Context(), p, n, id)
}
