package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
)

// The status page's configuration: components, planned maintenance and
// subscribers. The page itself (/status, /status.json, /status.atom) is
// served by package web.

// ComponentJSON is a component of API v1.
type ComponentJSON struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Group       string    `json:"group"`
	Position    int       `json:"position"`
	Services    []string  `json:"services"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func componentJSON(c *status.Component) ComponentJSON {
	j := ComponentJSON{ID: c.ID, Name: c.Name, Description: c.Description, Group: c.Group, Position: c.Position,
		Services: c.Services, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	if j.Services == nil {
		j.Services = []string{}
	}
	return j
}

type componentRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Group       *string   `json:"group"`
	Position    *int      `json:"position"`
	Services    *[]string `json:"services"`
}

func (req componentRequest) input() service.ComponentInput {
	return service.ComponentInput{Name: req.Name, Description: req.Description, Group: req.Group, Position: req.Position, Services: req.Services}
}

func (a *API) listComponents(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Components(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"components": mapAll(list, componentJSON)}, nil
}

func (a *API) createComponent(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[componentRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	c, err := a.svc.CreateComponent(r.Context(), p, req.input())
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/components/%d", c.ID))
	return http.StatusCreated, componentJSON(c), nil
}

func (a *API) patchComponent(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[componentRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	c, err := a.svc.UpdateComponent(r.Context(), p, id, req.input())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, componentJSON(c), nil
}

func (a *API) deleteComponent(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.DeleteComponent(r.Context(), p, id)
}

// MaintenanceJSON is planned work of API v1.
type MaintenanceJSON struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	Components []int64   `json:"components"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

func maintenanceJSON(m *status.Maintenance) MaintenanceJSON {
	j := MaintenanceJSON{ID: m.ID, Title: m.Title, Body: m.Body, StartsAt: m.Start.UTC(), EndsAt: m.End.UTC(), Components: m.Components,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt.UTC()}
	if j.Components == nil {
		j.Components = []int64{}
	}
	return j
}

type maintenanceRequest struct {
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	Components []int64   `json:"components"`
}

func (a *API) listMaintenance(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Maintenance(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"maintenance": mapAll(list, maintenanceJSON)}, nil
}

func (a *API) createMaintenance(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[maintenanceRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	m, err := a.svc.CreateMaintenance(r.Context(), p, service.MaintenanceInput{Title: req.Title, Body: req.Body, Start: req.StartsAt,
		End: req.EndsAt, Components: req.Components})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/maintenance/%d", m.ID))
	return http.StatusCreated, maintenanceJSON(m), nil
}

func (a *API) deleteMaintenance(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.DeleteMaintenance(r.Context(), p, id)
}

// SubscriberJSON is a status page subscriber of API v1.
type SubscriberJSON struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	Components  []int64    `json:"components"`
	Confirmed   bool       `json:"confirmed"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
}

func subscriberJSON(s *status.Subscriber) SubscriberJSON {
	j := SubscriberJSON{ID: s.ID, Email: s.Email, Components: s.Components, Confirmed: !s.ConfirmedAt.IsZero(),
		CreatedAt: s.CreatedAt.UTC(), ConfirmedAt: optTime(s.ConfirmedAt)}
	if j.Components == nil {
		j.Components = []int64{}
	}
	return j
}

func (a *API) listSubscribers(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Subscribers(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"subscribers": mapAll(list, subscriberJSON)}, nil
}

func (a *API) deleteSubscriber(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.RemoveSubscriber(r.Context(), p, id)
}

type linkPatchRequest struct {
	Visibility string `json:"visibility"`
}
