package sentry

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// resourceOf takes the Sentry-Hook-Resource from a testdata file name,
// "<resource>.<action>.json".
func resourceOf(file string) string {
	resource, _, _ := strings.Cut(filepath.Base(file), ".")
	return resource
}

func frontEndIssue(action string, status alert.Status, extra map[string]string) alert.Alert {
	annotations := map[string]string{
		"summary":       "ReferenceError: blooopy is not defined",
		"culprit":       "?(runner)",
		"short_id":      "FRONT-END-9",
		"sentry_action": action,
	}
	for k, v := range extra {
		annotations[k] = v
	}
	return alert.Alert{
		Fingerprint: "issue:1170820242",
		GroupKey:    "issue:1170820242",
		Status:      status,
		Labels: map[string]string{
			"alertname": "ReferenceError: blooopy is not defined",
			"source":    "sentry",
			"project":   "front-end",
			"level":     "error",
			"platform":  "javascript",
			"culprit":   "?(runner)",
		},
		Annotations: annotations,
		StartsAt:    intaketest.At("2019-08-19T20:58:37.391Z"),
		Title:       "ReferenceError: blooopy is not defined",
		Links:       []alert.Link{{Kind: "exception", URL: "https://test-org.sentry.io/issues/1170820242/", Title: "FRONT-END-9"}},
	}
}

func tooManyErrors(action string, status alert.Status) alert.Alert {
	a := alert.Alert{
		Fingerprint: "metric_alert:4",
		GroupKey:    "metric_alert:4",
		Status:      status,
		Labels:      map[string]string{"alertname": "Too many errors", "source": "sentry", "project": "bar"},
		Annotations: map[string]string{
			"sentry_action": action,
			"query":         "level:error",
			"aggregate":     "count()",
		},
		StartsAt: intaketest.At("2020-09-13T12:26:40Z"),
		Title:    "Too many errors",
		Links:    []alert.Link{{Kind: "source", URL: "https://sentry.io/organizations/baz/alerts/1/", Title: "Sentry metric alert"}},
	}
	if status == alert.Resolved {
		a.EndsAt = intaketest.At("2020-09-13T12:46:40Z")
		a.Annotations["description_title"] = "Resolved: Too many errors"
		a.Annotations["description"] = "1000 events in the last 10 minutes\nFilter: level:error"
	} else {
		a.Labels["severity"] = action
		a.Labels["environment"] = "production"
		a.Annotations["description_title"] = strings.ToUpper(action[:1]) + action[1:] + ": Too many errors"
		a.Annotations["description"] = "1204 events in the last 10 minutes\nFilter: level:error"
	}
	return a
}

func TestFixtures(t *testing.T) {
	tests := map[string][]alert.Alert{
		"issue.created.json":    {frontEndIssue("created", alert.Firing, map[string]string{"status": "unresolved", "substatus": "new"})},
		"issue.unresolved.json": {frontEndIssue("unresolved", alert.Firing, map[string]string{"status": "unresolved", "substatus": "regressed"})},
		"issue.assigned.json":   {frontEndIssue("assigned", alert.Firing, map[string]string{"status": "unresolved", "substatus": "ongoing", "assignee": "Jane Doe"})},
		"issue.ignored.json":    {frontEndIssue("ignored", alert.Firing, map[string]string{"status": "ignored", "substatus": "archived_until_escalating"})},
		"issue.resolved.json":   {frontEndIssue("resolved", alert.Resolved, map[string]string{"status": "resolved", "resolution_type": "in_next_release"})},
		"event_alert.triggered.json": {{
			Fingerprint: "issue:1117540176",
			GroupKey:    "issue:1117540176",
			Status:      alert.Firing,
			Labels: map[string]string{
				"alertname":   "ReferenceError: heck is not defined",
				"source":      "sentry",
				"project":     "front-end",
				"environment": "production",
				"level":       "error",
				"platform":    "javascript",
				"culprit":     "?(<anonymous>)",
				"rule":        "Very Important Alert Rule!",
			},
			Annotations: map[string]string{
				"summary":       "ReferenceError: heck is not defined",
				"culprit":       "?(<anonymous>)",
				"event_id":      "e4874d664c3540c1a32eab185f12c5ab",
				"sentry_action": "triggered",
			},
			StartsAt: intaketest.At("2019-08-19T21:06:17.677Z"),
			Title:    "ReferenceError: heck is not defined",
			Links: []alert.Link{{Kind: "exception", Title: "Sentry event",
				URL: "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/"}},
		}},
		"error.created.json": {{
			Fingerprint: "issue:1170820242", // the same alert as the issue webhooks
			GroupKey:    "issue:1170820242",
			Status:      alert.Firing,
			Labels: map[string]string{
				"alertname":   "ReferenceError: blooopy is not defined",
				"source":      "sentry",
				"project":     "front-end",
				"environment": "production",
				"level":       "error",
				"platform":    "javascript",
				"culprit":     "?(runner)",
			},
			Annotations: map[string]string{
				"summary":       "ReferenceError: blooopy is not defined",
				"culprit":       "?(runner)",
				"event_id":      "bb78c1407cea4519aa397afc059c793d",
				"release":       "front-end@2.4.1",
				"sentry_action": "created",
			},
			StartsAt: intaketest.At("2019-08-19T20:58:37.391Z"),
			Title:    "ReferenceError: blooopy is not defined",
			Links: []alert.Link{{Kind: "exception", Title: "Sentry event",
				URL: "https://sentry.io/organizations/test-org/issues/1170820242/events/bb78c1407cea4519aa397afc059c793d/"}},
		}},
		"metric_alert.critical.json": {tooManyErrors("critical", alert.Firing)},
		"metric_alert.warning.json":  {tooManyErrors("warning", alert.Firing)},
		"metric_alert.resolved.json": {tooManyErrors("resolved", alert.Resolved)},
		"installation.created.json":  {},
		"comment.created.json":       {},
	}
	intaketest.Golden(t, tests, func(file string, body []byte) ([]alert.Alert, error) { return Parse(resourceOf(file), body) })
}

func TestResourcesWithoutAlerts(t *testing.T) {
	for _, resource := range []string{"installation", "comment", "seer", "preprod_artifact", "something_new"} {
		got, err := Parse(resource, []byte(`not even JSON`))
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%s: got %v, %v; want an empty slice and no error", resource, got, err)
		}
	}
}

func TestIssueStatus(t *testing.T) {
	tests := []struct {
		action, issueStatus string
		want                alert.Status
	}{
		{"created", "unresolved", alert.Firing},
		{"unresolved", "unresolved", alert.Firing},
		{"resolved", "resolved", alert.Resolved},
		{"resolved", "", alert.Resolved},
		{"assigned", "unresolved", alert.Firing},
		{"assigned", "resolved", alert.Resolved}, // assigning a resolved issue does not re-fire it
		{"ignored", "ignored", alert.Firing},
		{"archived", "ignored", alert.Firing},
	}
	for _, tt := range tests {
		if got := issueStatus(tt.action, tt.issueStatus); got != tt.want {
			t.Errorf("issueStatus(%q, %q) = %s, want %s", tt.action, tt.issueStatus, got, tt.want)
		}
	}
}

func TestNumericIDs(t *testing.T) {
	got, err := Parse("issue", []byte(`{"action":"created","data":{"issue":{"id":1170820242,"title":"x","project":{"slug":"p"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Fingerprint != "issue:1170820242" {
		t.Errorf("fingerprint %s", got[0].Fingerprint)
	}
	got, err = Parse("metric_alert", []byte(`{"action":"critical","data":{"metric_alert":{"id":4,"alert_rule":{"name":"r"}}}}`))
	if err != nil || got[0].Fingerprint != "metric_alert:4" {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestLongCulpritStaysOutOfLabels(t *testing.T) {
	culprit := strings.Repeat("module.", 40)
	got, err := Parse("issue", []byte(`{"action":"created","data":{"issue":{"id":"1","title":"x","culprit":"`+culprit+`"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[0].Labels["culprit"]; ok || got[0].Annotations["culprit"] != culprit {
		t.Errorf("labels %v, annotations %v", got[0].Labels, got[0].Annotations)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name, resource, body, wantMsg string
	}{
		{"no resource header", "", `{}`, "missing Sentry-Hook-Resource"},
		{"malformed JSON", "issue", `{"action":`, "invalid JSON"},
		{"trailing garbage", "issue", `{"action":"created"} x`, "invalid JSON"},
		{"issue without action", "issue", `{"data":{"issue":{"id":"1"}}}`, "action: missing"},
		{"issue missing", "issue", `{"action":"created","data":{}}`, "data.issue: missing"},
		{"issue without id", "issue", `{"action":"created","data":{"issue":{"title":"x"}}}`, "data.issue.id: missing"},
		{"issue id of wrong type", "issue", `{"action":"created","data":{"issue":{"id":{"x":1}}}}`, "data.issue.id: expected"},
		{"event_alert unknown action", "event_alert", `{"action":"fired","data":{"event":{"issue_id":"1"}}}`, `unknown event_alert action "fired"`},
		{"event_alert without event", "event_alert", `{"action":"triggered","data":{}}`, "data.event: missing"},
		{"event without ids", "event_alert", `{"action":"triggered","data":{"event":{"title":"x"}}}`, "data.event.issue_id: missing"},
		{"error unknown action", "error", `{"action":"deleted","data":{"error":{"issue_id":"1"}}}`, `unknown error action "deleted"`},
		{"metric_alert unknown action", "metric_alert", `{"action":"open","data":{"metric_alert":{"id":"4"}}}`, `unknown metric_alert action "open"`},
		{"metric_alert without id", "metric_alert", `{"action":"critical","data":{"metric_alert":{}}}`, "data.metric_alert.id: missing"},
		{"metric_alert missing", "metric_alert", `{"action":"critical","data":{}}`, "data.metric_alert: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.resource, []byte(tt.body))
			intaketest.Refused(t, err, tt.wantMsg)
		})
	}
}

func TestUncleanText(t *testing.T) {
	body := "{\"action\":\"created\",\"data\":{\"issue\":{\"id\":\"1\\u0000\",\"title\":\"boom\\u0000\xff\",\"web_url\":\"javascript:alert(1)\"}}}"
	got, err := Parse("issue", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a := got[0]
	if a.Fingerprint != "issue:1\uFFFD" || a.Title != "boom\uFFFD\uFFFD" || len(a.Links) != 0 {
		t.Errorf("got %+v", a)
	}
	if err := alert.CheckNormalized(a); err != nil {
		t.Error(err)
	}
}

func TestProjectFromEventURL(t *testing.T) {
	tests := map[string]string{
		"https://sentry.io/api/0/projects/test-org/front-end/events/e48/": "front-end",
		"https://sentry.example.com/api/0/projects/acme/api/events/1/":    "api",
		"https://sentry.io/api/0/issues/1117540176/":                      "",
		"https://sentry.io/api/0/projects/test-org/":                      "",
		"": "",
	}
	for in, want := range tests {
		if got := projectFromEventURL(in); got != want {
			t.Errorf("projectFromEventURL(%q) = %q, want %q", in, got, want)
		}
	}
}
