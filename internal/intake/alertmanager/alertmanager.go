// Package alertmanager reads the body of a Prometheus Alertmanager
// webhook_config notification (protocol version "4", unchanged since 2017)
// into alerts. It only parses: authentication (Alertmanager sends no
// signature, only http_config credentials) and storage live elsewhere.
//
// Bodies from 0.25 (the captured fixtures in testdata) and from newer
// releases, which add notification_reason (0.32) and routeLabels (0.34),
// are accepted alike; unknown keys are ignored. A body produced by the
// webhook "payload" template option is not version 4 and is refused.
package alertmanager

import (
	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/payload"
)

// Version is the only webhook protocol version Parse accepts.
const Version = "4"

// message holds the fields of Alertmanager's webhook.Message we use; the
// others (receiver, status, groupLabels, commonLabels, commonAnnotations,
// externalURL, notification_reason, routeLabels) describe the group as a
// whole and are derivable from, or irrelevant to, the alerts.
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
}

// Parse decodes one webhook body. Every alert in it is returned, firing and
// resolved alike (one body may mix both), normalized with alert.Normalize.
// Errors are *alert.InvalidError values whose text can be sent back.
func Parse(body []byte) ([]alert.Alert, error) {
	var msg message
	if !decodeFast(body, &msg) {
		msg = message{}
		if err := payload.Decode(body, &msg, ""); err != nil {
			return nil, err
		}
	}
	if msg.Version != Version {
		return nil, alert.Invalid("version: got %s, want %q (Alertmanager webhook_config without a custom payload)", payload.Quote(msg.Version), Version)
	}
	if err := payload.CheckBatch("alerts", len(msg.Alerts)); err != nil {
		return nil, err
	}
	out := make([]alert.Alert, 0, len(msg.Alerts))
	for i, w := range msg.Alerts {
		a, err := convert(w, i)
		if err != nil {
			return nil, err
		}
		a.GroupKey, a.Truncated = msg.GroupKey, msg.TruncatedAlerts
		out = append(out, a)
	}
	return payload.Finish(out), nil
}

func convert(w wireAlert, i int) (alert.Alert, error) {
	status, startsAt, endsAt, err := payload.Lifecycle("", w.Status, w.StartsAt, w.EndsAt)
	if err != nil {
		// Again with the alert's place for the message, which is built
		// only for a refusal.
		_, _, _, err = payload.Lifecycle(payload.Index("alerts", i), w.Status, w.StartsAt, w.EndsAt)
		return alert.Alert{}, err
	}
	return alert.Alert{
		Fingerprint: w.Fingerprint, // alert.Normalize computes Alertmanager's own hash when it is missing
		Status:      status,
		Labels:      w.Labels,
		Annotations: w.Annotations,
		StartsAt:    startsAt,
		EndsAt:      endsAt,
		Links:       links(w),
	}, nil
}

// links gathers the URLs Prometheus rules conventionally carry. Values that
// are not http(s) URLs (a dashboard annotation holding a name) are dropped
// by alert.Normalize and stay readable as annotations.
func links(w wireAlert) []alert.Link {
	var out []alert.Link
	add := func(kind, url string) {
		if url != "" {
			out = append(out, alert.Link{Kind: kind, URL: url})
		}
	}
	add(alert.LinkSource, w.GeneratorURL)
	add(alert.LinkRunbook, w.Annotations["runbook_url"])
	add(alert.LinkDashboard, w.Annotations["dashboard"])
	add(alert.LinkDashboard, w.Annotations["dashboard_url"])
	return out
}
