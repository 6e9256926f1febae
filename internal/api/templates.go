package api

import (
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

// TemplateJSON is a checklist template on the wire.
type TemplateJSON struct {
	ID        int64                   `json:"id"`
	Name      string                  `json:"name"`
	Severity  incident.Severity       `json:"severity"`
	Service   string                  `json:"service"`
	Items     []incident.TemplateItem `json:"items"`
	CreatedBy string                  `json:"created_by"`
	CreatedAt time.Time               `json:"created_at"`
}

func templateJSON(t *incident.Template) TemplateJSON {
	items := t.Items
	if items == nil {
		items = []incident.TemplateItem{}
	}
	return TemplateJSON{ID: t.ID, Name: t.Name, Severity: t.Severity, Service: t.Service, Items: items,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC()}
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Templates(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"templates": mapAll(list, templateJSON)}, nil
}

type createTemplateRequest struct {
	Name     string                  `json:"name"`
	Severity incident.Severity       `json:"severity"`
	Service  string                  `json:"service"`
	Items    []incident.TemplateItem `json:"items"`
}

func (a *API) createTemplate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createTemplateRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	t, err := a.svc.CreateTemplate(r.Context(), p, incident.Template{Name: req.Name, Severity: req.Severity, Service: req.Service, Items: req.Items})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, templateJSON(t), nil
}

// updateTemplateRequest is a PATCH: the fields present replace the
// template's (an empty severity or service means any); items replace all.
type updateTemplateRequest struct {
	Name     *string                  `json:"name"`
	Severity *incident.Severity       `json:"severity"`
	Service  *string                  `json:"service"`
	Items    *[]incident.TemplateItem `json:"items"`
}

func (a *API) updateTemplate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[updateTemplateRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	t, err := a.svc.UpdateTemplate(r.Context(), p, id, service.TemplateChange{Name: req.Name, Severity: req.Severity, Service: req.Service, Items: req.Items})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, templateJSON(t), nil
}

func (a *API) deleteTemplate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.RemoveTemplate(r.Context(), p, id)
}
