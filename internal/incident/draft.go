package incident

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/text"
)

// Size limits for incident fields; generous for people, tight enough that a
// runaway script cannot bloat the database.
const (
	MaxTitleBytes    = 300
	MaxSummaryBytes  = 64 << 10
	MaxServices      = 20
	MaxServiceBytes  = 100
	MaxLabels        = 64
	MaxLabelKey      = 128
	MaxLabelValue    = 1024
	MaxUpdateBytes   = 64 << 10
	MaxItemBytes     = 500
	MaxURLBytes      = 2048
	MaxLinkTitle     = 300
	MaxUsernameBytes = 64
)

// Draft is what a person or a rule supplies to open an incident.
type Draft struct {
	Title           string
	Summary         string
	Severity        Severity
	Services        []string
	Labels          map[string]string
	DetectionSource Source
	Visibility      Visibility
	Owners          map[Phase]string
	// Template chooses the checklist template: "" every template that
	// matches, "none" no template, else a template's name.
	Template string
}

// Normalize cleans the draft's text, fills defaults and rejects what is not
// valid. A person who says nothing else opens a public, major incident that
// the team found itself.
func (d *Draft) Normalize() error {
	d.Title = text.Line(d.Title, MaxTitleBytes)
	if d.Title == "" {
		return problem.Unprocessablef("title is required")
	}
	d.Summary = text.Clean(d.Summary, 0)
	if len(d.Summary) > MaxSummaryBytes {
		return problem.Unprocessablef("summary is longer than %d bytes", MaxSummaryBytes)
	}
	if d.Severity == "" {
		d.Severity = Major
	}
	if d.DetectionSource == "" {
		d.DetectionSource = SourceTeam
	}
	if d.Visibility == "" {
		d.Visibility = Public
	}
	var err error
	if d.Services, err = normalizeServices(d.Services); err != nil {
		return err
	}
	if d.Labels, err = normalizeLabels(d.Labels); err != nil {
		return err
	}
	if err := checkSeverity(d.Severity); err != nil {
		return err
	}
	if err := checkSource(d.DetectionSource); err != nil {
		return err
	}
	if err := checkIncidentVisibility(d.Visibility); err != nil {
		return err
	}
	return checkOwners(d.Owners)
}

// Patch changes some fields of an incident; nil means unchanged. An owner
// set to "" is cleared.
type Patch struct {
	Title                *string
	Summary              *string
	Severity             *Severity
	Services             *[]string
	Labels               *map[string]string
	DetectionSource      *Source
	Visibility           *Visibility
	Owners               map[Phase]string
	DetectionImprovement *string

	// OnStatusPage publishes the incident to the status page (true) or
	// takes it off (false); StatusTitle is the title customers read
	// there, "" for the incident's own.
	OnStatusPage *bool
	StatusTitle  *string
}

// Change is one field's old and new value, as the timeline records it.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// ApplyPatch validates every field of p, then applies them to inc,
// returning what changed (field name → change). A patch with one bad field
// changes nothing, so a caller that keeps inc after an error never holds a
// half-applied patch. An empty result means nothing changed.
func ApplyPatch(inc *Incident, p Patch) (map[string]Change, error) {
	p, err := p.normalize()
	if err != nil {
		return nil, err
	}
	confidential := inc.Confidential()
	if p.Visibility != nil {
		confidential = *p.Visibility == Confidential
	}
	if p.OnStatusPage != nil && *p.OnStatusPage && confidential {
		return nil, problem.New(problem.Unprocessable, "confidential_unpublishable",
			"a confidential incident cannot be published to the status page; make it public first")
	}
	// Rule 5 outlives the close: otherwise setting the source to alert,
	// closing and setting it back, or clearing the improvement afterwards,
	// would leave a closed incident that monitoring missed without one.
	// Only a patch that changes the source or the improvement is held to
	// it, so an incident closed without one before keeps its other fields
	// editable (and can still be taken off the status page).
	source, improvement := inc.DetectionSource, inc.DetectionImprovement
	if p.DetectionSource != nil {
		source = *p.DetectionSource
	}
	if p.DetectionImprovement != nil {
		improvement = *p.DetectionImprovement
	}
	if inc.Phase == Closed && source.NeedsDetectionImprovement() && strings.TrimSpace(improvement) == "" &&
		(source != inc.DetectionSource || improvement != inc.DetectionImprovement) {
		return nil, improvementRequired(inc, source, "as it is closed, it needs")
	}
	changes := map[string]Change{}
	set(changes, "title", &inc.Title, p.Title)
	set(changes, "summary", &inc.Summary, p.Summary)
	set(changes, "severity", &inc.Severity, p.Severity)
	if p.Services != nil && !slices.Equal(*p.Services, inc.Services) {
		changes["services"] = Change{inc.Services, *p.Services}
		inc.Services = *p.Services
	}
	if p.Labels != nil && !maps.Equal(*p.Labels, inc.Labels) {
		changes["labels"] = Change{inc.Labels, *p.Labels}
		inc.Labels = *p.Labels
	}
	set(changes, "detection_source", &inc.DetectionSource, p.DetectionSource)
	set(changes, "visibility", &inc.Visibility, p.Visibility)
	set(changes, "detection_improvement", &inc.DetectionImprovement, p.DetectionImprovement)
	set(changes, "status_title", &inc.StatusTitle, p.StatusTitle)
	if confidential && inc.OnStatusPage && p.OnStatusPage == nil {
		// Hidden from customers at once, and not back on the page by
		// itself when the incident is made public again.
		p.OnStatusPage = new(bool)
	}
	set(changes, "on_status_page", &inc.OnStatusPage, p.OnStatusPage)
	for _, ph := range OwnedPhases {
		who, ok := p.Owners[ph]
		if !ok || who == inc.Owners[ph] {
			continue
		}
		changes["owner_"+string(ph)] = Change{inc.Owners[ph], who}
		if inc.Owners == nil {
			inc.Owners = map[Phase]string{}
		}
		if who == "" {
			delete(inc.Owners, ph)
		} else {
			inc.Owners[ph] = who
		}
	}
	return changes, nil
}

// set applies one field of a patch if it was given and differs.
func set[T comparable](changes map[string]Change, name string, field, to *T) {
	if to != nil && *to != *field {
		changes[name] = Change{*field, *to}
		*field = *to
	}
}

// normalize returns p with every given field cleaned, or the first field
// that is not valid. It works on a copy: the caller's values stay as sent.
func (p Patch) normalize() (Patch, error) {
	if p.Title != nil {
		t := text.Line(*p.Title, MaxTitleBytes)
		if t == "" {
			return p, problem.Unprocessablef("title cannot be empty")
		}
		p.Title = &t
	}
	if p.Summary != nil {
		s := text.Clean(*p.Summary, 0)
		if len(s) > MaxSummaryBytes {
			return p, problem.Unprocessablef("summary is longer than %d bytes", MaxSummaryBytes)
		}
		p.Summary = &s
	}
	if p.Severity != nil {
		if err := checkSeverity(*p.Severity); err != nil {
			return p, err
		}
	}
	if p.Services != nil {
		s, err := normalizeServices(*p.Services)
		if err != nil {
			return p, err
		}
		p.Services = &s
	}
	if p.Labels != nil {
		l, err := normalizeLabels(*p.Labels)
		if err != nil {
			return p, err
		}
		p.Labels = &l
	}
	if p.DetectionSource != nil {
		if err := checkSource(*p.DetectionSource); err != nil {
			return p, err
		}
	}
	if p.Visibility != nil {
		if err := checkIncidentVisibility(*p.Visibility); err != nil {
			return p, err
		}
	}
	if p.DetectionImprovement != nil {
		s := text.Clean(strings.TrimSpace(*p.DetectionImprovement), 0)
		if len(s) > MaxNoteBytes {
			return p, problem.Unprocessablef("detection_improvement is longer than %d bytes", MaxNoteBytes)
		}
		p.DetectionImprovement = &s
	}
	if p.StatusTitle != nil {
		t := text.Line(*p.StatusTitle, MaxTitleBytes)
		p.StatusTitle = &t
	}
	return p, checkOwners(p.Owners)
}

func checkSeverity(s Severity) error {
	if !slices.Contains(Severities, s) {
		return problem.Unprocessablef("unknown severity %q: want critical, major or minor", s)
	}
	return nil
}

func checkSource(s Source) error {
	if !slices.Contains(Sources, s) {
		return problem.Unprocessablef("unknown detection_source %q: want alert, exception, customer, team or other", s)
	}
	return nil
}

func checkIncidentVisibility(v Visibility) error {
	if v != Public && v != Confidential {
		return problem.Unprocessablef("unknown visibility %q: want public or confidential", v)
	}
	return nil
}

// CheckUpdateVisibility validates an update's visibility; empty means
// internal, so a slip leaks nothing.
func CheckUpdateVisibility(v Visibility) (Visibility, error) {
	switch v {
	case "":
		return Internal, nil
	case Internal, Public:
		return v, nil
	}
	return "", problem.Unprocessablef("unknown visibility %q: want internal or public", v)
}

func checkOwners(owners map[Phase]string) error {
	for ph, who := range owners {
		if !slices.Contains(OwnedPhases, ph) {
			return problem.Unprocessablef("phase %q has no owner: owners exist for active, mitigated and resolved", ph)
		}
		if len(who) > MaxUsernameBytes || strings.ContainsAny(who, " \t\r\n\x00") {
			return problem.Unprocessablef("owner of %s is not a user name", ph)
		}
	}
	return nil
}

// NormalizeServices cleans a list of service names as incidents keep
// them: trimmed, without duplicates, sorted, at most MaxServices.
func NormalizeServices(in []string) ([]string, error) { return normalizeServices(in) }

func normalizeServices(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = text.Line(s, MaxServiceBytes)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > MaxServices {
		return nil, problem.Unprocessablef("at most %d services", MaxServices)
	}
	slices.Sort(out)
	return out, nil
}

func normalizeLabels(in map[string]string) (map[string]string, error) {
	if len(in) > MaxLabels {
		return nil, problem.Unprocessablef("at most %d labels", MaxLabels)
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		k = text.Line(k, MaxLabelKey)
		if k == "" {
			return nil, problem.Unprocessablef("label names cannot be empty")
		}
		out[k] = text.Line(v, MaxLabelValue)
	}
	return out, nil
}

// CheckURL accepts only absolute http, https and mailto links, so a link can
// never run script in a reader's browser.
func CheckURL(raw string) (string, error) {
	raw = text.Line(raw, 0)
	if raw == "" {
		return "", problem.Unprocessablef("url is required")
	}
	if len(raw) > MaxURLBytes {
		return "", problem.Unprocessablef("url is longer than %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", problem.Unprocessablef("url is not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", problem.Unprocessablef("url has no host")
		}
	case "mailto":
	default:
		return "", problem.Unprocessablef("url must be http, https or mailto")
	}
	return raw, nil
}

// CheckLinkKind validates a link kind; empty means other.
func CheckLinkKind(k LinkKind) (LinkKind, error) {
	if k == "" {
		return LinkOther, nil
	}
	if !slices.Contains(LinkKinds, k) {
		return "", problem.Unprocessablef("unknown link kind %q", k)
	}
	return k, nil
}
