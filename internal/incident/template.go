package incident

import (
	"slices"
	"time"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/text"
)

// Limits of a checklist template.
const (
	MaxTemplateName  = 100
	MaxTemplateItems = 50
)

// Template is a checklist template: items added to new incidents. It
// applies by itself to an incident of its severity touching its service
// (either empty matches any), and to an incident opened with it chosen by
// name.
type Template struct {
	ID        int64
	Name      string
	Severity  Severity // "" = any
	Service   string   // "" = any
	Items     []TemplateItem
	CreatedBy string
	CreatedAt time.Time
}

// TemplateItem is one acceptance criterion a template adds. Items of
// resolved gate the close: open ones block it unless overridden.
type TemplateItem struct {
	Phase Phase  `json:"phase"`
	Text  string `json:"text"`
}

// Normalize cleans a template and rejects what is not valid.
func (t *Template) Normalize() error {
	t.Name = text.Line(t.Name, MaxTemplateName+1)
	if t.Name == "" {
		return problem.Unprocessablef("name is required")
	}
	if len(t.Name) > MaxTemplateName {
		return problem.Unprocessablef("name is longer than %d bytes", MaxTemplateName)
	}
	if t.Severity != "" {
		if err := checkSeverity(t.Severity); err != nil {
			return err
		}
	}
	t.Service = text.Line(t.Service, MaxServiceBytes)
	if len(t.Items) == 0 {
		return problem.Unprocessablef("a template needs at least one item")
	}
	if len(t.Items) > MaxTemplateItems {
		return problem.Unprocessablef("a template has at most %d items", MaxTemplateItems)
	}
	for i := range t.Items {
		it := &t.Items[i]
		it.Text = text.Line(it.Text, MaxItemBytes+1)
		if it.Text == "" {
			return problem.Unprocessablef("item %d has no text", i+1)
		}
		if len(it.Text) > MaxItemBytes {
			return problem.Unprocessablef("item %d is longer than %d bytes", i+1, MaxItemBytes)
		}
		if it.Phase == "" {
			it.Phase = Active
		}
		if !slices.Contains(OwnedPhases, it.Phase) {
			return problem.Unprocessablef("item %d: checklist items belong to active, mitigated or resolved (resolved items gate the close), not %q", i+1, it.Phase)
		}
	}
	return nil
}

// Matches reports whether the template applies by itself to a new
// incident of severity sev touching services.
func (t *Template) Matches(sev Severity, services []string) bool {
	if t.Severity != "" && t.Severity != sev {
		return false
	}
	return t.Service == "" || slices.Contains(services, t.Service)
}
