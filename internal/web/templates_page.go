package web

import (
	"net/http"
	"strconv"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
)

// templateRows is how many item rows the admin form offers; a template
// with more items is made through the API or the CLI.
const templateRows = 8

type templatesData struct {
	Templates []*incident.Template
	Rows      []int
	Phases    []incident.Phase
}

func (w *Web) adminTemplates(r *http.Request, p auth.Principal) (string, string, any, error) {
	list, err := w.svc.Templates(r.Context(), p)
	d := templatesData{Templates: list, Phases: incident.OwnedPhases}
	for i := 1; i <= templateRows; i++ {
		d.Rows = append(d.Rows, i)
	}
	return "Checklist templates", "admin_templates", d, err
}

// createTemplateAction reads the item rows (phase_N, text_N); rows left
// empty are skipped.
func (w *Web) createTemplateAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	t := incident.Template{Name: f.Get("name"), Severity: incident.Severity(f.Get("severity")), Service: f.Get("service")}
	for i := 1; i <= templateRows; i++ {
		n := strconv.Itoa(i)
		if txt := f.Get("text_" + n); txt != "" {
			t.Items = append(t.Items, incident.TemplateItem{Phase: incident.Phase(f.Get("phase_" + n)), Text: txt})
		}
	}
	_, err := w.svc.CreateTemplate(r.Context(), p, t)
	return notice("/admin/templates", "Template added."), w.adminTemplates, nil, err
}

func (w *Web) removeTemplateAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.RemoveTemplate(r.Context(), p, id)
	}
	return notice("/admin/templates", "Template removed."), w.adminTemplates, nil, err
}
