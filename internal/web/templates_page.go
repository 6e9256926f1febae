package web

import (
	"net/http"
	"strconv"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
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

// templateRow is one item row of the edit form.
type templateRow struct {
	N     int
	Phase incident.Phase
	Text  string
}

type templateEditData struct {
	Template *incident.Template
	Rows     []templateRow
	Phases   []incident.Phase
}

// adminTemplateEdit is the edit form of one template: its items, then
// empty rows to add more. After a refused save it shows what was sent, so
// nothing typed is lost.
func (w *Web) adminTemplateEdit(r *http.Request, p auth.Principal) (string, string, any, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", nil, err
	}
	t, err := w.svc.Template(r.Context(), p, id)
	if err != nil {
		return "", "", nil, err
	}
	if r.Method == http.MethodPost {
		t = formTemplate(r, t.ID)
	}
	d := templateEditData{Template: t, Phases: incident.OwnedPhases}
	for i, it := range t.Items {
		d.Rows = append(d.Rows, templateRow{N: i + 1, Phase: it.Phase, Text: it.Text})
	}
	for len(d.Rows) < max(templateRows, len(t.Items)+3) {
		d.Rows = append(d.Rows, templateRow{N: len(d.Rows) + 1, Phase: incident.Resolved})
	}
	return "Edit checklist template " + t.Name, "admin_template_edit", d, nil
}

// formTemplate reads the edit form; rows left empty are skipped.
func formTemplate(r *http.Request, id int64) *incident.Template {
	f := r.PostForm
	t := &incident.Template{ID: id, Name: f.Get("name"), Severity: incident.Severity(f.Get("severity")), Service: f.Get("service"), Items: []incident.TemplateItem{}}
	for i := 1; i <= incident.MaxTemplateItems+templateRows; i++ {
		n := strconv.Itoa(i)
		if txt := f.Get("text_" + n); txt != "" {
			t.Items = append(t.Items, incident.TemplateItem{Phase: incident.Phase(f.Get("phase_" + n)), Text: txt})
		}
	}
	return t
}

// updateTemplateAction saves the edit form: the name, severity, service
// and items as sent replace the template's.
func (w *Web) updateTemplateAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	t := formTemplate(r, id)
	_, err = w.svc.UpdateTemplate(r.Context(), p, id, service.TemplateChange{Name: &t.Name, Severity: &t.Severity, Service: &t.Service, Items: &t.Items})
	return notice("/admin/templates", "Template saved."), w.adminTemplateEdit, nil, err
}

func (w *Web) removeTemplateAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.RemoveTemplate(r.Context(), p, id)
	}
	return notice("/admin/templates", "Template removed."), w.adminTemplates, nil, err
}
