// Package sentry reads Sentry integration-platform webhooks (internal or
// public integrations, "Sentry Apps") into alerts and checks their
// signature. Which body shape arrives is told by the Sentry-Hook-Resource
// header, so Parse takes it alongside the body.
//
// One Sentry issue is one alert: issue, event_alert and error webhooks
// about the same issue share the fingerprint "issue:<issue id>", so an
// alert-rule notification and a later "issue resolved" webhook update the
// same alert. A metric alert is keyed by its Sentry incident,
// "metric_alert:<id>". The legacy per-project "WebHooks" plugin (no
// signature, no resource header) is not handled here.
package sentry

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/payload"
)

// Resources that carry an alert. Every other resource (installation,
// comment, seer, and whatever Sentry adds later) yields no alerts and no
// error, so subscribing the integration to more than we use is harmless.
const (
	ResourceIssue       = "issue"
	ResourceEventAlert  = "event_alert"
	ResourceMetricAlert = "metric_alert"
	ResourceError       = "error"
)

// maxCulpritLabel keeps long culprits (full URLs, deep module paths) out
// of the labels, where they would only make rule matching noisy; they stay
// readable as an annotation.
const maxCulpritLabel = 128

// Parse decodes one webhook body sent with the given Sentry-Hook-Resource
// header value. It returns one alert for issue, event_alert, metric_alert
// and error resources and none for the others. Errors are
// *alert.InvalidError values whose text can be sent back.
func Parse(resource string, body []byte) ([]alert.Alert, error) {
	var a alert.Alert
	var err error
	switch strings.TrimSpace(resource) {
	case ResourceIssue:
		a, err = parseIssue(body)
	case ResourceEventAlert:
		a, err = parseEventAlert(body)
	case ResourceMetricAlert:
		a, err = parseMetricAlert(body)
	case ResourceError:
		a, err = parseError(body)
	case "":
		return nil, alert.Invalid("missing %s header", ResourceHeader)
	default:
		return []alert.Alert{}, nil
	}
	if err != nil {
		return nil, err
	}
	return payload.Finish([]alert.Alert{a}), nil
}

// id accepts Sentry ids whether sent as strings ("1170820242", as
// documented) or as numbers, so a serializer change on Sentry's side does
// not make us drop alerts.
type id string

func (v *id) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = id(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*v = id(n)
	return nil
}

type issueHook struct {
	Action string `json:"action"`
	Data   struct {
		Issue          *issue `json:"issue"`
		ResolutionType string `json:"resolution_type"`
		Assignee       *struct {
			Name string `json:"name"`
		} `json:"assignee"`
	} `json:"data"`
}

type issue struct {
	ID        id     `json:"id"`
	ShortID   string `json:"shortId"`
	Title     string `json:"title"`
	Culprit   string `json:"culprit"`
	Level     string `json:"level"`
	Status    string `json:"status"`
	Substatus string `json:"substatus"`
	Platform  string `json:"platform"`
	FirstSeen string `json:"firstSeen"`
	WebURL    string `json:"web_url"`
	Permalink string `json:"permalink"`
	URL       string `json:"url"`
	Project   struct {
		Slug string `json:"slug"`
	} `json:"project"`
}

func parseIssue(body []byte) (alert.Alert, error) {
	var hook issueHook
	if err := payload.Decode(body, &hook, ""); err != nil {
		return alert.Alert{}, err
	}
	is := hook.Data.Issue
	switch {
	case hook.Action == "":
		return alert.Alert{}, alert.Invalid("action: missing")
	case is == nil:
		return alert.Alert{}, alert.Invalid("data.issue: missing")
	case is.ID == "":
		return alert.Alert{}, alert.Invalid("data.issue.id: missing")
	}
	key := "issue:" + string(is.ID)
	a := alert.Alert{
		Fingerprint: key,
		GroupKey:    key,
		Status:      issueStatus(hook.Action, is.Status),
		StartsAt:    looseTime(is.FirstSeen),
		Labels:      commonLabels(is.Title, is.Level, is.Platform, is.Culprit),
		Annotations: map[string]string{"sentry_action": hook.Action},
		Links:       []alert.Link{{Kind: alert.LinkException, URL: firstNonEmpty(is.WebURL, is.Permalink, is.URL), Title: firstNonEmpty(is.ShortID, "Sentry issue")}},
	}
	setNonEmpty(a.Labels, "project", is.Project.Slug)
	setNonEmpty(a.Annotations, "summary", is.Title)
	setNonEmpty(a.Annotations, "culprit", is.Culprit)
	setNonEmpty(a.Annotations, "short_id", is.ShortID)
	setNonEmpty(a.Annotations, "status", is.Status)
	setNonEmpty(a.Annotations, "substatus", is.Substatus)
	setNonEmpty(a.Annotations, "resolution_type", hook.Data.ResolutionType)
	if as := hook.Data.Assignee; as != nil {
		setNonEmpty(a.Annotations, "assignee", as.Name)
	}
	return a, nil
}

// issueStatus resolves the alert only when Sentry says the issue is
// resolved. "created" and "unresolved" (a regression) fire; for the other
// actions (assigned, ignored/archived, and any added later) the issue's
// own status decides, so assigning an already resolved issue does not
// fire it again.
func issueStatus(action, issueStatus string) alert.Status {
	switch action {
	case "resolved":
		return alert.Resolved
	case "created", "unresolved":
		return alert.Firing
	}
	if issueStatus == "resolved" {
		return alert.Resolved
	}
	return alert.Firing
}

// event is Sentry's serialized event, sent as data.event (event_alert)
// and data.error (error). Its project is a numeric id, not a slug.
type event struct {
	EventID     string `json:"event_id"`
	IssueID     id     `json:"issue_id"`
	Title       string `json:"title"`
	Culprit     string `json:"culprit"`
	Level       string `json:"level"`
	Platform    string `json:"platform"`
	Environment string `json:"environment"`
	Release     string `json:"release"`
	Datetime    string `json:"datetime"`
	WebURL      string `json:"web_url"`
	URL         string `json:"url"`
}

type eventAlertHook struct {
	Action string `json:"action"`
	Data   struct {
		Event         *event `json:"event"`
		TriggeredRule string `json:"triggered_rule"`
		IssueAlert    *struct {
			Title string `json:"title"`
		} `json:"issue_alert"`
	} `json:"data"`
}

func parseEventAlert(body []byte) (alert.Alert, error) {
	var hook eventAlertHook
	if err := payload.Decode(body, &hook, ""); err != nil {
		return alert.Alert{}, err
	}
	if hook.Action != "triggered" {
		return alert.Alert{}, alert.Invalid(`action: unknown event_alert action %s (want "triggered")`, payload.Quote(hook.Action))
	}
	a, err := eventAlert(hook.Data.Event, "data.event", hook.Action)
	if err != nil {
		return alert.Alert{}, err
	}
	rule := hook.Data.TriggeredRule
	if rule == "" && hook.Data.IssueAlert != nil {
		rule = hook.Data.IssueAlert.Title
	}
	setNonEmpty(a.Labels, "rule", rule)
	return a, nil
}

type errorHook struct {
	Action string `json:"action"`
	Data   struct {
		Error *event `json:"error"`
	} `json:"data"`
}

func parseError(body []byte) (alert.Alert, error) {
	var hook errorHook
	if err := payload.Decode(body, &hook, ""); err != nil {
		return alert.Alert{}, err
	}
	if hook.Action != "created" {
		return alert.Alert{}, alert.Invalid(`action: unknown error action %s (want "created")`, payload.Quote(hook.Action))
	}
	return eventAlert(hook.Data.Error, "data.error", hook.Action)
}

// eventAlert builds the firing alert for an event; keyed by its issue so
// every event of one issue lands on the same alert.
func eventAlert(ev *event, path, action string) (alert.Alert, error) {
	if ev == nil {
		return alert.Alert{}, alert.Invalid("%s: missing", path)
	}
	var key string
	switch {
	case ev.IssueID != "":
		key = "issue:" + string(ev.IssueID)
	case ev.EventID != "":
		key = "event:" + ev.EventID
	default:
		return alert.Alert{}, alert.Invalid("%s.issue_id: missing", path)
	}
	a := alert.Alert{
		Fingerprint: key,
		GroupKey:    key,
		Status:      alert.Firing,
		StartsAt:    looseTime(ev.Datetime),
		Labels:      commonLabels(ev.Title, ev.Level, ev.Platform, ev.Culprit),
		Annotations: map[string]string{"sentry_action": action},
		Links:       []alert.Link{{Kind: alert.LinkException, URL: firstNonEmpty(ev.WebURL, ev.URL), Title: "Sentry event"}},
	}
	setNonEmpty(a.Labels, "project", projectFromEventURL(ev.URL))
	setNonEmpty(a.Labels, "environment", ev.Environment)
	setNonEmpty(a.Annotations, "summary", ev.Title)
	setNonEmpty(a.Annotations, "culprit", ev.Culprit)
	setNonEmpty(a.Annotations, "event_id", ev.EventID)
	setNonEmpty(a.Annotations, "release", ev.Release)
	return a, nil
}

// projectFromEventURL recovers the project slug, which events only carry
// inside their API URL: .../projects/<org>/<project>/events/<id>/.
func projectFromEventURL(u string) string {
	_, rest, ok := strings.Cut(u, "/projects/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || parts[2] != "events" {
		return ""
	}
	return parts[1]
}

type metricAlertHook struct {
	Action string `json:"action"`
	Data   struct {
		MetricAlert      *metricAlert `json:"metric_alert"`
		DescriptionTitle string       `json:"description_title"`
		DescriptionText  string       `json:"description_text"`
		WebURL           string       `json:"web_url"`
	} `json:"data"`
}

type metricAlert struct {
	ID          id       `json:"id"`
	Title       string   `json:"title"`
	Projects    []string `json:"projects"`
	DateStarted string   `json:"date_started"`
	DateClosed  string   `json:"date_closed"`
	AlertRule   struct {
		Name        string `json:"name"`
		Aggregate   string `json:"aggregate"`
		Query       string `json:"query"`
		Environment string `json:"environment"`
	} `json:"alert_rule"`
}

// parseMetricAlert maps the incident's trigger to a status: critical and
// warning open or escalate it, resolved closes it. The title stays the
// rule name whatever the trigger, so the headline does not change when a
// warning escalates; Sentry's "Critical: …" text is kept as an annotation.
func parseMetricAlert(body []byte) (alert.Alert, error) {
	var hook metricAlertHook
	if err := payload.Decode(body, &hook, ""); err != nil {
		return alert.Alert{}, err
	}
	var status alert.Status
	switch hook.Action {
	case "critical", "warning":
		status = alert.Firing
	case "resolved":
		status = alert.Resolved
	default:
		return alert.Alert{}, alert.Invalid(`action: unknown metric_alert action %s (want "critical", "warning" or "resolved")`, payload.Quote(hook.Action))
	}
	m := hook.Data.MetricAlert
	switch {
	case m == nil:
		return alert.Alert{}, alert.Invalid("data.metric_alert: missing")
	case m.ID == "":
		return alert.Alert{}, alert.Invalid("data.metric_alert.id: missing")
	}
	key := "metric_alert:" + string(m.ID)
	a := alert.Alert{
		Fingerprint: key,
		GroupKey:    key,
		Status:      status,
		StartsAt:    looseTime(m.DateStarted),
		Labels: map[string]string{
			"alertname": firstNonEmpty(m.AlertRule.Name, m.Title, hook.Data.DescriptionTitle, "Sentry metric alert"),
			"source":    "sentry",
		},
		Annotations: map[string]string{"sentry_action": hook.Action},
		Links:       []alert.Link{{Kind: alert.LinkSource, URL: hook.Data.WebURL, Title: "Sentry metric alert"}},
	}
	if status == alert.Resolved {
		a.EndsAt = looseTime(m.DateClosed)
	} else {
		a.Labels["severity"] = hook.Action
	}
	setNonEmpty(a.Labels, "project", strings.Join(m.Projects, ","))
	setNonEmpty(a.Labels, "environment", m.AlertRule.Environment)
	setNonEmpty(a.Annotations, "description_title", hook.Data.DescriptionTitle)
	setNonEmpty(a.Annotations, "description", hook.Data.DescriptionText)
	setNonEmpty(a.Annotations, "query", m.AlertRule.Query)
	setNonEmpty(a.Annotations, "aggregate", m.AlertRule.Aggregate)
	return a, nil
}

// commonLabels are the labels rules match Sentry alerts on. alertname is
// the issue title, Sentry's closest equivalent of a rule name for issues.
func commonLabels(title, level, platform, culprit string) map[string]string {
	labels := map[string]string{
		"alertname": firstNonEmpty(title, "Sentry issue"),
		"source":    "sentry",
	}
	setNonEmpty(labels, "level", level)
	setNonEmpty(labels, "platform", platform)
	if len(culprit) <= maxCulpritLabel {
		setNonEmpty(labels, "culprit", culprit)
	}
	return labels
}

func setNonEmpty(m map[string]string, key, value string) {
	if value != "" {
		m[key] = value
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// looseTime parses Sentry's timestamps ("2019-08-19T20:58:37.391000Z").
// Sentry does not retry deliveries, so an unparsable time costs only the
// time, never the alert.
func looseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
