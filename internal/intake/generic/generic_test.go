package generic

import (
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

func TestFixtures(t *testing.T) {
	backup := map[string]string{"alertname": "Nightly backup failed"}
	tests := map[string][]alert.Alert{
		"single-minimal.json": {{
			Fingerprint: alert.Fingerprint(backup),
			Status:      alert.Firing,
			Labels:      backup,
			Annotations: map[string]string{},
			Title:       "Nightly backup failed",
			Links:       []alert.Link{},
		}},
		"single-full.json": {{
			Fingerprint: "backup-db-1",
			Status:      alert.Firing,
			Labels:      map[string]string{"alertname": "Nightly backup failed", "host": "db-1", "job": "backup", "severity": "major", "service": "billing"},
			Annotations: map[string]string{
				"log_path":    "/var/log/backup/2026-11-23.log",
				"summary":     "pg_dump exited with status 1 on db-1",
				"description": "The 02:00 backup of the billing database did not complete.\nSee the job log for details.",
			},
			StartsAt: intaketest.At("2026-11-23T01:04:11Z"),
			GroupKey: "backups",
			Title:    "pg_dump exited with status 1 on db-1",
			Links: []alert.Link{
				{Kind: "runbook", URL: "https://wiki.example.com/runbooks/backup", Title: "Backup runbook"},
				{Kind: "other", URL: "https://ci.example.com/jobs/backup/1234"},
			},
		}},
		"resolved.json": {{
			Fingerprint: "backup-db-1",
			Status:      alert.Resolved,
			Labels:      backup,
			Annotations: map[string]string{},
			EndsAt:      intaketest.At("2026-11-23T03:10:00Z"),
			Title:       "Nightly backup failed",
			Links:       []alert.Link{},
		}},
		"batch.json": {
			{
				Fingerprint: alert.Fingerprint(map[string]string{"alertname": "CertificateExpiring", "domain": "shop.example.com", "severity": "minor"}),
				Status:      alert.Firing,
				Labels:      map[string]string{"alertname": "CertificateExpiring", "domain": "shop.example.com", "severity": "minor"},
				Annotations: map[string]string{"summary": "TLS certificate for shop.example.com expires in 9 days"},
				Title:       "TLS certificate for shop.example.com expires in 9 days",
				Links:       []alert.Link{},
			},
			{
				Fingerprint: alert.Fingerprint(map[string]string{"alertname": "CertificateExpiring", "domain": "api.example.com"}),
				Status:      alert.Resolved,
				Labels:      map[string]string{"alertname": "CertificateExpiring", "domain": "api.example.com"},
				Annotations: map[string]string{},
				EndsAt:      intaketest.At("2026-11-23T06:00:00Z"),
				Title:       "CertificateExpiring",
				Links:       []alert.Link{},
			},
		},
	}
	intaketest.Golden(t, tests, func(_ string, body []byte) ([]alert.Alert, error) { return Parse(body) })
}

func TestFingerprintDefaults(t *testing.T) {
	parse := func(body string) alert.Alert {
		t.Helper()
		got, err := Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	titleOnly := parse(`{"title":"Disk full"}`)
	if titleOnly.Fingerprint != alert.Fingerprint(map[string]string{"alertname": "Disk full"}) {
		t.Errorf("title-only fingerprint %s is not the hash of the title", titleOnly.Fingerprint)
	}
	if again := parse(`{"title":"Disk full","status":"resolved"}`); again.Fingerprint != titleOnly.Fingerprint {
		t.Error("resending the same title does not hit the same alert")
	}
	if parse(`{"title":"Disk full","labels":{"host":"db-1"}}`).Fingerprint == parse(`{"title":"Backup failed","labels":{"host":"db-1"}}`).Fingerprint {
		t.Error("two titles from one host share a fingerprint")
	}
	if parse(`{"title":"x","labels":{"alertname":"Disk full","host":"a"}}`).Fingerprint == parse(`{"title":"x","labels":{"alertname":"Disk full","host":"b"}}`).Fingerprint {
		t.Error("different labels share a fingerprint")
	}
	explicit := parse(`{"title":"Disk 91% full","fingerprint":"disk-db-1"}`)
	if explicit.Fingerprint != "disk-db-1" || explicit.Labels["alertname"] != "Disk 91% full" {
		t.Errorf("got %+v", explicit)
	}
	// An alertname label wins over the title as identity.
	named := parse(`{"title":"anything","labels":{"alertname":"DemoServiceDown","env":"e2e","service":"demo","severity":"critical"}}`)
	if named.Fingerprint != "c1fd535dc93659ef" {
		t.Errorf("fingerprint %s, want the one Alertmanager gives these labels", named.Fingerprint)
	}
}

func TestEmptyBatch(t *testing.T) {
	for _, body := range []string{`{"alerts":[]}`, `{"alerts":null}`} {
		got, err := Parse([]byte(body))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %v, %v", body, got, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	intaketest.Refuses(t, []intaketest.Bad{
		{Name: "empty body", Body: ``, Msg: "unexpected end"},
		{Name: "malformed JSON", Body: `{"title":`, Msg: "invalid JSON"},
		{Name: "trailing garbage", Body: `{"title":"x"} y`, Msg: "unexpected data after the JSON value"},
		{Name: "two objects", Body: `{"title":"x"}{"title":"y"}`, Msg: "unexpected data after the JSON value"},
		{Name: "null body", Body: `null`, Msg: "expected an object"},
		{Name: "array body", Body: `[{"title":"x"}]`, Msg: "body: expected an object, got JSON array"},
		{Name: "no title", Body: `{"severity":"critical"}`, Msg: "title: required unless labels.alertname is set"},
		{Name: "blank title", Body: `{"title":"   "}`, Msg: "title: required"},
		{Name: "unknown field", Body: `{"title":"x","sumary":"typo"}`, Msg: `body: unknown field "sumary"`},
		{Name: "unknown field in batch alert", Body: `{"alerts":[{"title":"x"},{"title":"y","colour":"red"}]}`, Msg: `alerts[1]: unknown field "colour"`},
		{Name: "unknown field next to alerts", Body: `{"alerts":[],"source":"cron"}`, Msg: `body: unknown field "source" next to alerts`},
		{Name: "unknown link field", Body: `{"title":"x","links":[{"url":"https://a.example","href":"b"}]}`, Msg: `unknown field "href"`},
		{Name: "unknown status", Body: `{"title":"x","status":"pending"}`, Msg: `status: unknown status "pending"`},
		{Name: "unknown status in batch", Body: `{"alerts":[{"title":"a"},{"title":"b"},{"title":"c","status":"acknowledged"}]}`, Msg: `alerts[2].status: unknown status "acknowledged"`},
		{Name: "null alert in batch", Body: `{"alerts":[null]}`, Msg: "alerts[0]: expected an alert object"},
		{Name: "alerts not an array", Body: `{"alerts":{"title":"x"}}`, Msg: "alerts: expected an array"},
		{Name: "label not a string", Body: `{"title":"x","labels":{"port":8080}}`, Msg: "labels: expected a string, got JSON number"},
		{Name: "empty label name", Body: `{"title":"x","labels":{"":"v"}}`, Msg: "labels: empty name"},
		{Name: "severity conflict", Body: `{"title":"x","severity":"major","labels":{"severity":"minor"}}`, Msg: `severity: "major" conflicts with labels.severity "minor"`},
		{Name: "summary conflict", Body: `{"title":"x","summary":"a","annotations":{"summary":"b"}}`, Msg: `summary: "a" conflicts with annotations.summary "b"`},
		{Name: "bad time", Body: `{"title":"x","starts_at":"2026-11-23 02:04"}`, Msg: `starts_at: "2026-11-23 02:04" is not an RFC 3339 time`},
		{Name: "bad link kind", Body: `{"title":"x","links":[{"kind":"wiki","url":"https://a.example"}]}`, Msg: `links[0].kind: unknown kind "wiki"`},
		{Name: "link without URL", Body: `{"title":"x","links":[{"kind":"runbook"}]}`, Msg: `links[0].url: "" is not an absolute http or https URL`},
		{Name: "javascript link", Body: `{"title":"x","links":[{"url":"javascript:alert(1)"}]}`, Msg: `links[0].url`},
		{Name: "relative link", Body: `{"title":"x","links":[{"url":"/runbooks/x"}]}`, Msg: `links[0].url`},
	}, Parse)
}

func TestShortcutsThatAgree(t *testing.T) {
	got, err := Parse([]byte(`{"title":"x","severity":"major","labels":{"severity":"major"}}`))
	if err != nil || got[0].Labels["severity"] != "major" {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestTooManyAlerts(t *testing.T) {
	intaketest.BatchLimit(t, Parse, func(n int) []byte {
		return []byte(`{"alerts":[` + strings.Repeat(`{"title":"x"},`, n-1) + `{"title":"x"}]}`)
	})
}

func TestUncleanText(t *testing.T) {
	body := "{\"title\":\"backup\\u0000failed\",\"labels\":{\"host\":\"db\xff\"}}"
	got, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a := got[0]
	if a.Title != "backup\uFFFDfailed" || a.Labels["host"] != "db\uFFFD" || a.Labels["alertname"] != "backup\uFFFDfailed" {
		t.Errorf("got %+v", a)
	}
	if err := alert.CheckNormalized(a); err != nil {
		t.Error(err)
	}
}
