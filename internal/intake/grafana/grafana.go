// Package grafana reads the body of a Grafana unified-alerting webhook
// contact point (message version "1") into alerts, and checks its optional
// HMAC signature. Grafana's Alertmanager is a fork of Prometheus', so the
// body is Alertmanager's version-4 shape plus Grafana fields (orgId, title,
// state, message, and per alert silenceURL, dashboardURL, panelURL, values,
// imageURL …); unknown keys are ignored.
package grafana

import (
	"slices"
	"strconv"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/payload"
)

// Version is the only message version Parse accepts. Grafana's
// Mimir-compatible webhook variant sends Alertmanager's "4" instead; such
// bodies belong on the Alertmanager endpoint.
const Version = "1"

// message holds the fields we use. The group-level title and message are
// rendered for humans ("[FIRING:1] …") and describe the whole group, so
// they are not copied onto individual alerts.
type message struct {
	Version  string      `json:"version"`
	GroupKey string      `json:"groupKey"`
	Alerts   []wireAlert `json:"alerts"`
	// TruncatedAlerts counts the alerts of the group left out by
	// max_alerts; every alert carries it, so the loss is recorded where
	// the group lands.
	TruncatedAlerts int `json:"truncatedAlerts"`
}

type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	SilenceURL   string            `json:"silenceURL"`
	DashboardURL string            `json:"dashboardURL"`
	PanelURL     string            `json:"panelURL"`
	ImageURL     string            `json:"imageURL"`
	// Values maps a query's refID to its value at evaluation. Decoded
	// loosely (any) because a non-number here must not cost the alert.
	Values map[string]any `json:"values"`
}

// ValuesAnnotation is the annotation Parse fills with the evaluation
// values ("B=93.2, C=1") when the rule did not set one of that name:
// Grafana sends them in a separate field, and without them the incident
// page could not say how far over the threshold the alert was.
const ValuesAnnotation = "values"

// Parse decodes one webhook body. Every alert in it is returned, firing and
// resolved alike, normalized with alert.Normalize. Errors are
// *alert.InvalidError values whose text can be sent back.
func Parse(body []byte) ([]alert.Alert, error) {
	var msg message
	if err := payload.Decode(body, &msg, ""); err != nil {
		return nil, err
	}
	if msg.Version != Version {
		hint := ""
		if msg.Version == "4" {
			hint = "; version 4 bodies go to the Alertmanager endpoint"
		}
		return nil, alert.Invalid("version: got %s, want %q (Grafana webhook contact point)%s", payload.Quote(msg.Version), Version, hint)
	}
	if err := payload.CheckBatch("alerts", len(msg.Alerts)); err != nil {
		return nil, err
	}
	out := make([]alert.Alert, 0, len(msg.Alerts))
	for i, w := range msg.Alerts {
		a, err := convert(w, payload.Index("alerts", i))
		if err != nil {
			return nil, err
		}
		a.GroupKey, a.Truncated = msg.GroupKey, msg.TruncatedAlerts
		out = append(out, a)
	}
	return payload.Finish(out), nil
}

func convert(w wireAlert, path string) (alert.Alert, error) {
	status, startsAt, endsAt, err := payload.Lifecycle(path, w.Status, w.StartsAt, w.EndsAt)
	if err != nil {
		return alert.Alert{}, err
	}
	annotations := w.Annotations
	if v := formatValues(w.Values); v != "" && annotations[ValuesAnnotation] == "" {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[ValuesAnnotation] = v
	}
	return alert.Alert{
		Fingerprint: w.Fingerprint,
		Status:      status,
		Labels:      w.Labels,
		Annotations: annotations,
		StartsAt:    startsAt,
		EndsAt:      endsAt,
		Links:       links(w),
	}, nil
}

// links orders what a responder needs first: the dashboard and panel to
// look at, the runbook, the rule, then the silence form and the screenshot.
// Grafana sends "" for a dashboard or panel the rule is not linked to;
// alert.Normalize drops those and anything not http(s).
func links(w wireAlert) []alert.Link {
	var out []alert.Link
	add := func(kind, url, title string) {
		if url != "" {
			out = append(out, alert.Link{Kind: kind, URL: url, Title: title})
		}
	}
	add(alert.LinkDashboard, w.DashboardURL, "")
	add(alert.LinkPanel, w.PanelURL, "")
	add(alert.LinkRunbook, w.Annotations["runbook_url"], "")
	add(alert.LinkSource, w.GeneratorURL, "Alert rule")
	add(alert.LinkSilence, w.SilenceURL, "Silence")
	add(alert.LinkOther, w.ImageURL, "Screenshot")
	return out
}

// formatValues renders values the way Grafana's default message does,
// "B=93.2, C=1", sorted by refID so the text is stable across re-sends.
// Anything but a number or a string is left out.
func formatValues(values map[string]any) string {
	refs := make([]string, 0, len(values))
	for ref := range values {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	parts := make([]string, 0, len(refs))
	for _, ref := range refs {
		switch v := values[ref].(type) {
		case float64:
			parts = append(parts, ref+"="+strconv.FormatFloat(v, 'g', -1, 64))
		case string:
			parts = append(parts, ref+"="+v)
		}
	}
	return strings.Join(parts, ", ")
}
