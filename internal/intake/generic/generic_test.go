package generic

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestFixtures(t *testing.T) {
	backup := map[string]string{"alertname": "Nightly backup failed"}
	tests := []struct {
		file string
		want []alert.Alert
	}{
		{"single-minimal.json", []alert.Alert{{
			Fingerprint: alert.Fingerprint(backup),
			Status:      alert.Firing,
			Labels:      backup,
			Annotations: map[string]string{},
			Title:       "Nightly backup failed",
			Links:       []alert.Link{},
		}}},
		{"single-full.json", []alert.Alert{{
			Fingerprint: "backup-db-1",
			Status:      alert.Firing,
			Labels:      map[string]string{"alertname": "Nightly backup failed", "host": "db-1", "job": "backup", "severity": "major", "service": "billing"},
			Annotations: map[string]string{
				"log_path":    "/var/log/backup/2026-11-23.log",
				"summary":     "pg_dump exited with status 1 on db-1",
				"description": "The 02:00 backup of the billing database did not complete.\nSee the job log for details.",
			},
			StartsAt: at("2026-11-23T01:04:11Z"),
			GroupKey: "backups",
			Title:    "pg_dump exited with status 1 on db-1",
			Links: []alert.Link{
				{Kind: "runbook", URL: "https://wiki.example.com/runbooks/backup", Title: "Backup runbook"},
				{Kind: "other", URL: "https://ci.example.com/jobs/backup/1234"},
			},
		}}},
		{"resolved.json", []alert.Alert{{
			Fingerprint: "backup-db-1",
			Status:      alert.Resolved,
			Labels:      backup,
			Annotations: map[string]string{},
			EndsAt:      at("2026-11-23T03:10:00Z"),
			Title:       "Nightly backup failed",
			Links:       []alert.Link{},
		}}},
		{"batch.json", []alert.Alert{
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
				EndsAt:      at("2026-11-23T06:00:00Z"),
				Title:       "CertificateExpiring",
				Links:       []alert.Link{},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d alerts, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tt.want[i]) {
					t.Errorf("alert %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
				if err := alert.CheckNormalized(got[i]); err != nil {
					t.Errorf("alert %d: %v", i, err)
				}
			}
		})
	}
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
	tests := []struct {
		name, body, wantMsg string
	}{
		{"empty body", ``, "unexpected end"},
		{"malformed JSON", `{"title":`, "invalid JSON"},
		{"trailing garbage", `{"title":"x"} y`, "unexpected data after the JSON value"},
		{"two objects", `{"title":"x"}{"title":"y"}`, "unexpected data after the JSON value"},
		{"null body", `null`, "expected an object"},
		{"array body", `[{"title":"x"}]`, "body: expected an object, got JSON array"},
		{"no title", `{"severity":"critical"}`, "title: required unless labels.alertname is set"},
		{"blank title", `{"title":"   "}`, "title: required"},
		{"unknown field", `{"title":"x","sumary":"typo"}`, `body: unknown field "sumary"`},
		{"unknown field in batch alert", `{"alerts":[{"title":"x"},{"title":"y","colour":"red"}]}`, `alerts[1]: unknown field "colour"`},
		{"unknown field next to alerts", `{"alerts":[],"source":"cron"}`, `body: unknown field "source" next to alerts`},
		{"unknown link field", `{"title":"x","links":[{"url":"https://a.example","href":"b"}]}`, `unknown field "href"`},
		{"unknown status", `{"title":"x","status":"pending"}`, `status: unknown status "pending"`},
		{"unknown status in batch", `{"alerts":[{"title":"a"},{"title":"b"},{"title":"c","status":"acknowledged"}]}`, `alerts[2].status: unknown status "acknowledged"`},
		{"null alert in batch", `{"alerts":[null]}`, "alerts[0]: expected an alert object"},
		{"alerts not an array", `{"alerts":{"title":"x"}}`, "alerts: expected an array"},
		{"label not a string", `{"title":"x","labels":{"port":8080}}`, "labels: expected a string, got JSON number"},
		{"empty label name", `{"title":"x","labels":{"":"v"}}`, "labels: empty name"},
		{"severity conflict", `{"title":"x","severity":"major","labels":{"severity":"minor"}}`, `severity: "major" conflicts with labels.severity "minor"`},
		{"summary conflict", `{"title":"x","summary":"a","annotations":{"summary":"b"}}`, `summary: "a" conflicts with annotations.summary "b"`},
		{"bad time", `{"title":"x","starts_at":"2026-11-23 02:04"}`, `starts_at: "2026-11-23 02:04" is not an RFC 3339 time`},
		{"bad link kind", `{"title":"x","links":[{"kind":"wiki","url":"https://a.example"}]}`, `links[0].kind: unknown kind "wiki"`},
		{"link without URL", `{"title":"x","links":[{"kind":"runbook"}]}`, `links[0].url: "" is not an absolute http or https URL`},
		{"javascript link", `{"title":"x","links":[{"url":"javascript:alert(1)"}]}`, `links[0].url`},
		{"relative link", `{"title":"x","links":[{"url":"/runbooks/x"}]}`, `links[0].url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			var invalid *alert.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("got %v, %v; want an *alert.InvalidError", got, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestShortcutsThatAgree(t *testing.T) {
	got, err := Parse([]byte(`{"title":"x","severity":"major","labels":{"severity":"major"}}`))
	if err != nil || got[0].Labels["severity"] != "major" {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestTooManyAlerts(t *testing.T) {
	body := `{"alerts":[` + strings.Repeat(`{"title":"x"},`, alert.MaxBatch) + `{"title":"x"}]}`
	if _, err := Parse([]byte(body)); err == nil || !strings.Contains(err.Error(), "at most 1000") {
		t.Errorf("err = %v", err)
	}
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
