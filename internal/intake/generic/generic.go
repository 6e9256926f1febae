// Package generic reads Quench's own alert format, meant for scripts, cron
// jobs and anything without a native integration. Because we define it, it
// is strict: an unknown field or a contradiction is an error, not a guess.
//
// The body is either one alert object or {"alerts": [ … ]} with up to
// alert.MaxBatch alerts. Fields of an alert (all optional unless said):
//
//	title        string  headline; required unless labels.alertname is set
//	status       string  "firing" (default) or "resolved"
//	fingerprint  string  identity across re-sends; default: the Prometheus
//	                     fingerprint of the labels (see below)
//	group_key    string  alerts sharing it belong to one problem
//	labels       object  string → string; what rules match on
//	annotations  object  string → string; descriptive text
//	starts_at    string  RFC 3339; when the problem began
//	ends_at      string  RFC 3339; when it ended (kept for resolved alerts)
//	links        array   of {"kind", "url", "title"}; kind is one of source,
//	                     dashboard, panel, silence, runbook, exception, other
//	                     (default other); url must be http(s)
//	severity     string  shortcut for labels.severity
//	service      string  shortcut for labels.service
//	summary      string  shortcut for annotations.summary
//	description  string  shortcut for annotations.description
//
// A shortcut and the entry it stands for may both be given only with the
// same value. When labels.alertname is missing, the title becomes
// labels.alertname, so that rules can match on it and two alerts that
// differ only in title (from one script, with the same host label) get
// different fingerprints. README.md in this directory documents the format
// for users, with examples.
package generic

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/payload"
)

type wireAlert struct {
	Title       string            `json:"title"`
	Status      string            `json:"status"`
	Fingerprint string            `json:"fingerprint"`
	GroupKey    string            `json:"group_key"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"starts_at"`
	EndsAt      string            `json:"ends_at"`
	Links       []wireLink        `json:"links"`
	Severity    string            `json:"severity"`
	Service     string            `json:"service"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
}

type wireLink struct {
	Kind  string `json:"kind"`
	URL   string `json:"url"`
	Title string `json:"title"`
}

// Parse decodes one request body. Errors are *alert.InvalidError values
// whose text can be sent back; field paths in them start at the alert
// ("status: …") for a single alert and at "alerts[i]" for a batch.
func Parse(body []byte) ([]alert.Alert, error) {
	var top map[string]json.RawMessage
	if err := payload.DecodeStrict(body, &top, ""); err != nil {
		return nil, err
	}
	if top == nil {
		return nil, alert.Invalid("body: expected an object, got JSON null")
	}
	if _, ok := top["alerts"]; !ok {
		a, err := parseAlert(body, "")
		if err != nil {
			return nil, err
		}
		return payload.Finish([]alert.Alert{a}), nil
	}
	if err := onlyKey(top, "alerts"); err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := payload.DecodeStrict(top["alerts"], &raws, "alerts"); err != nil {
		return nil, err
	}
	if err := payload.CheckBatch("alerts", len(raws)); err != nil {
		return nil, err
	}
	out := make([]alert.Alert, 0, len(raws))
	for i, raw := range raws {
		a, err := parseAlert(raw, payload.Index("alerts", i))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return payload.Finish(out), nil
}

// onlyKey rejects a batch body with anything besides its alerts, naming the
// first offender in sorted order so the message is stable.
func onlyKey(top map[string]json.RawMessage, key string) error {
	var extra []string
	for k := range top {
		if k != key {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	return alert.Invalid("body: unknown field %s next to alerts", payload.Quote(extra[0]))
}

func parseAlert(raw []byte, path string) (alert.Alert, error) {
	if strings.TrimSpace(string(raw)) == "null" {
		return alert.Alert{}, alert.Invalid("%s: expected an alert object, got JSON null", path)
	}
	var w wireAlert
	if err := payload.DecodeStrict(raw, &w, path); err != nil {
		return alert.Alert{}, err
	}
	return w.toAlert(path)
}

func (w wireAlert) toAlert(path string) (alert.Alert, error) {
	field := func(name string) string { return payload.Field(path, name) }

	status := alert.Firing
	if w.Status != "" {
		var err error
		if status, err = payload.Status(field("status"), w.Status); err != nil {
			return alert.Alert{}, err
		}
	}
	labels, err := withShortcuts(w.Labels, field("labels"), path, map[string]string{"severity": w.Severity, "service": w.Service})
	if err != nil {
		return alert.Alert{}, err
	}
	annotations, err := withShortcuts(w.Annotations, field("annotations"), path, map[string]string{"summary": w.Summary, "description": w.Description})
	if err != nil {
		return alert.Alert{}, err
	}
	if strings.TrimSpace(w.Title) == "" && strings.TrimSpace(labels["alertname"]) == "" {
		return alert.Alert{}, alert.Invalid("%s: required unless labels.alertname is set", field("title"))
	}
	if labels["alertname"] == "" {
		labels["alertname"] = w.Title
	}
	startsAt, err := payload.Time(field("starts_at"), w.StartsAt)
	if err != nil {
		return alert.Alert{}, err
	}
	endsAt, err := payload.Time(field("ends_at"), w.EndsAt)
	if err != nil {
		return alert.Alert{}, err
	}
	links, err := convertLinks(w.Links, field("links"))
	if err != nil {
		return alert.Alert{}, err
	}
	return alert.Alert{
		Fingerprint: w.Fingerprint, // empty: alert.Normalize hashes the labels
		Status:      status,
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    startsAt,
		EndsAt:      endsAt,
		GroupKey:    w.GroupKey,
		Title:       w.Title,
		Links:       links,
	}, nil
}

// withShortcuts copies m and adds the shortcut fields, refusing a shortcut
// that contradicts the map and a name that could never be matched on.
func withShortcuts(m map[string]string, mapPath, path string, shortcuts map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m)+len(shortcuts)+1)
	for k, v := range m {
		if strings.TrimSpace(k) == "" {
			return nil, alert.Invalid("%s: empty name", mapPath)
		}
		out[k] = v
	}
	for _, name := range slices.Sorted(maps.Keys(shortcuts)) {
		v := shortcuts[name]
		if v == "" {
			continue
		}
		if existing, ok := out[name]; ok && existing != v {
			return nil, alert.Invalid("%s: %s conflicts with %s.%s %s", payload.Field(path, name), payload.Quote(v), mapPath, name, payload.Quote(existing))
		}
		out[name] = v
	}
	return out, nil
}

func convertLinks(in []wireLink, path string) ([]alert.Link, error) {
	out := make([]alert.Link, 0, len(in))
	for i, l := range in {
		p := payload.Index(path, i)
		kind := l.Kind
		if kind == "" {
			kind = alert.LinkOther
		}
		if !alert.ValidLinkKind(kind) {
			return nil, alert.Invalid("%s.kind: unknown kind %s (want source, dashboard, panel, silence, runbook, exception or other)", p, payload.Quote(l.Kind))
		}
		if !alert.IsWebURL(strings.TrimSpace(l.URL)) {
			return nil, alert.Invalid("%s.url: %s is not an absolute http or https URL", p, payload.Quote(l.URL))
		}
		out = append(out, alert.Link{Kind: kind, URL: l.URL, Title: l.Title})
	}
	return out, nil
}
