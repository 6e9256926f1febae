package service

import (
	"context"
	"slices"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// Template choices for a new incident besides a template's name.
const (
	// TemplatesAuto (the default) adds every template that matches the
	// incident's severity and services.
	TemplatesAuto = ""
	// TemplatesNone adds no template.
	TemplatesNone = "none"
)

// Templates lists the checklist templates; the team reads them (the
// new-incident form offers them), admins change them.
func (s *Service) Templates(ctx context.Context, p auth.Principal) ([]*incident.Template, error) {
	if err := require(p, auth.ReadAll, "read checklist templates"); err != nil {
		return nil, err
	}
	var out []*incident.Template
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.Templates(ctx)
		return err
	})
	return out, err
}

// Template reads one checklist template.
func (s *Service) Template(ctx context.Context, p auth.Principal, id int64) (*incident.Template, error) {
	if err := require(p, auth.ReadAll, "read checklist templates"); err != nil {
		return nil, err
	}
	var t *incident.Template
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		t, err = tx.TemplateByID(ctx, id)
		return missing(err, "checklist template %d not found", id)
	})
	return t, err
}

// CreateTemplate adds a checklist template.
func (s *Service) CreateTemplate(ctx context.Context, p auth.Principal, t incident.Template) (*incident.Template, error) {
	if err := require(p, auth.Administer, "manage checklist templates"); err != nil {
		return nil, err
	}
	if err := t.Normalize(); err != nil {
		return nil, err
	}
	if t.Name == TemplatesNone {
		return nil, problem.Unprocessablef("%q means no template on the new-incident form; choose another name", TemplatesNone)
	}
	t.ID, t.CreatedBy, t.CreatedAt = 0, p.Name(), s.Now()
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertTemplate(ctx, &t); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "checklist_template_created", t.Name, map[string]any{"template": t.ID, "items": len(t.Items)})
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// TemplateChange is an edit of a checklist template: the fields that are
// set replace the template's; Items, when set, replace all its items.
type TemplateChange struct {
	Name     *string
	Severity *incident.Severity
	Service  *string
	Items    *[]incident.TemplateItem
}

// UpdateTemplate edits a checklist template. The edited template is
// validated as a whole before anything is written, so a refused edit
// changes nothing; incidents keep the items it added before.
func (s *Service) UpdateTemplate(ctx context.Context, p auth.Principal, id int64, c TemplateChange) (*incident.Template, error) {
	if err := require(p, auth.Administer, "manage checklist templates"); err != nil {
		return nil, err
	}
	var t *incident.Template
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if t, err = tx.TemplateByID(ctx, id); err != nil {
			return missing(err, "checklist template %d not found", id)
		}
		before := t.Name
		var changed []string
		if c.Name != nil {
			t.Name, changed = *c.Name, append(changed, "name")
		}
		if c.Severity != nil {
			t.Severity, changed = *c.Severity, append(changed, "severity")
		}
		if c.Service != nil {
			t.Service, changed = *c.Service, append(changed, "service")
		}
		if c.Items != nil {
			t.Items, changed = slices.Clone(*c.Items), append(changed, "items")
		}
		if len(changed) == 0 {
			return problem.Unprocessablef("nothing to change: give a name, severity, service or items")
		}
		if err := t.Normalize(); err != nil {
			return err
		}
		if t.Name == TemplatesNone {
			return problem.Unprocessablef("%q means no template on the new-incident form; choose another name", TemplatesNone)
		}
		if err := tx.UpdateTemplate(ctx, t); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "checklist_template_updated", t.Name,
			map[string]any{"template": t.ID, "was": before, "changed": changed, "items": len(t.Items)})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// RemoveTemplate deletes a checklist template; incidents keep its items.
func (s *Service) RemoveTemplate(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage checklist templates"); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteTemplate(ctx, id); err != nil {
			return missing(err, "checklist template %d not found", id)
		}
		return s.auditBy(ctx, tx, p, "checklist_template_removed", "", map[string]any{"template": id})
	})
}

// addTemplateItems adds to a new incident the items of the template chosen
// by name, or of every matching template (TemplatesAuto), one timeline
// entry per template. An unknown name is refused, so a typo opens nothing.
func (s *Service) addTemplateItems(ctx context.Context, tx *store.Tx, inc *incident.Incident, choice string) error {
	var use []*incident.Template
	switch choice {
	case TemplatesNone:
		return nil
	case TemplatesAuto:
		all, err := tx.Templates(ctx)
		if err != nil {
			return err
		}
		for _, t := range all {
			if t.Matches(inc.Severity, inc.Services) {
				use = append(use, t)
			}
		}
	default:
		t, err := tx.TemplateByName(ctx, choice)
		if err != nil {
			return problem.New(problem.Unprocessable, "unknown_template", "there is no checklist template %q", choice)
		}
		use = append(use, t)
	}
	for _, t := range use {
		for _, ti := range t.Items {
			it := &incident.ChecklistItem{Incident: inc.Number, Text: ti.Text, Phase: ti.Phase, Visibility: incident.Internal,
				CreatedBy: inc.CreatedBy, CreatedAt: inc.CreatedAt}
			if err := tx.InsertChecklistItem(ctx, it); err != nil {
				return err
			}
		}
		ev := &incident.Event{Incident: inc.Number, At: inc.CreatedAt, Actor: inc.CreatedBy, Kind: incident.EventChecklistAdded,
			Data: map[string]any{"template": t.Name, "count": len(t.Items), "phase": phasesOf(t.Items)}}
		if err := s.record(ctx, tx, inc, ev); err != nil {
			return err
		}
	}
	return nil
}

func phasesOf(items []incident.TemplateItem) string {
	var out []string
	for _, it := range items {
		if !slices.Contains(out, string(it.Phase)) {
			out = append(out, string(it.Phase))
		}
	}
	return joinAnd(out)
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, v := range s[1 : len(s)-1] {
		out += ", " + v
	}
	return out + " and " + s[len(s)-1]
}

// Setup is the first-run checklist, derived from what is stored: nothing
// to tick by hand, nothing to forget. Done when every step is.
type Setup struct {
	People, Integration, Alert, Incident bool
}

// Count is how many steps have happened.
func (s Setup) Count() int {
	n := 0
	for _, b := range []bool{s.People, s.Integration, s.Alert, s.Incident} {
		if b {
			n++
		}
	}
	return n
}

// Done reports whether every step has happened.
func (s Setup) Done() bool { return s.People && s.Integration && s.Alert && s.Incident }

// SetupState reads the first-run checklist; for the team only, since it
// says whether integrations and accounts exist.
func (s *Service) SetupState(ctx context.Context, p auth.Principal) (Setup, error) {
	if err := require(p, auth.ReadAll, "see the setup"); err != nil {
		return Setup{}, err
	}
	var f store.Setup
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		f, err = tx.SetupFacts(ctx)
		return err
	})
	return Setup{People: f.People, Integration: f.Integrations, Alert: f.Alerts, Incident: f.Incidents}, err
}
