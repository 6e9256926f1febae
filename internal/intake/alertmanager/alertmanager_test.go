package alertmanager

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// The generator URLs of the fixtures, with Go's \u0026 decoded to &.
const (
	latencyExpr = "http://127.0.0.1:19090/graph?g0.expr=label_replace%28vector%280.91%29%2C+%22instance%22%2C+%22web-1%3A8080%22%2C+%22%22%2C+%22%22%29+or+label_replace%28vector%281.42%29%2C+%22instance%22%2C+%22web-2%3A8080%22%2C+%22%22%2C+%22%22%29+or+%28label_replace%28vector%282.05%29%2C+%22instance%22%2C+%22web-3%3A8080%22%2C+%22%22%2C+%22%22%29+and+on+%28%29+%28time%28%29+-+process_start_time_seconds%7Bjob%3D%22prometheus%22%7D+%3C+60%29%29&g0.tab=1"
	downExpr    = "http://127.0.0.1:19090/graph?g0.expr=vector%281%29&g0.tab=1"
	warmupExpr  = "http://127.0.0.1:19090/graph?g0.expr=time%28%29+-+process_start_time_seconds%7Bjob%3D%22prometheus%22%7D+%3C+40&g0.tab=1"

	groupLatency      = `{}/{}:{alertname="DemoHighLatency", service="checkout"}`
	groupDown         = `{}/{}:{alertname="DemoServiceDown", service="demo"}`
	groupDownSubroute = `{}/{alertname="DemoServiceDown"}:{alertname="DemoServiceDown", service="demo"}`
	groupWarmup       = `{}/{}:{alertname="DemoWarmup", service="demo"}`
)

func serviceDown(groupKey string) alert.Alert {
	return alert.Alert{
		Fingerprint: "c1fd535dc93659ef",
		Status:      alert.Firing,
		Labels:      map[string]string{"alertname": "DemoServiceDown", "env": "e2e", "service": "demo", "severity": "critical"},
		Annotations: map[string]string{
			"description": "Synthetic alert from vector(1); value=1",
			"runbook_url": "https://runbooks.example.com/demo-service-down",
			"summary":     "Demo service is down",
		},
		StartsAt: intaketest.At("2026-11-23T20:11:18.867Z"),
		GroupKey: groupKey,
		Title:    "Demo service is down",
		Links: []alert.Link{
			{Kind: "source", URL: downExpr},
			{Kind: "runbook", URL: "https://runbooks.example.com/demo-service-down"},
		},
	}
}

func latency(web int, fp string, status alert.Status, startsAt, endsAt string, groupKey string) alert.Alert {
	summary := map[int]string{1: "0.91s", 2: "1.42s", 3: "2.05s"}[web]
	a := alert.Alert{
		Fingerprint: fp,
		Status:      status,
		Labels:      map[string]string{"alertname": "DemoHighLatency", "env": "e2e", "instance": fmt.Sprintf("web-%d:8080", web), "service": "checkout", "severity": "warning"},
		Annotations: map[string]string{"summary": fmt.Sprintf("p99 latency on web-%d:8080 is %s", web, summary)},
		StartsAt:    intaketest.At(startsAt),
		GroupKey:    groupKey,
		Title:       fmt.Sprintf("p99 latency on web-%d:8080 is %s", web, summary),
		Links:       []alert.Link{{Kind: "source", URL: latencyExpr}},
	}
	if endsAt != "" {
		a.EndsAt = intaketest.At(endsAt)
	}
	return a
}

func warmup(status alert.Status, age, endsAt string) alert.Alert {
	a := alert.Alert{
		Fingerprint: "670106d04f7b8055",
		Status:      status,
		Labels:      map[string]string{"alertname": "DemoWarmup", "env": "e2e", "instance": "127.0.0.1:19090", "job": "prometheus", "service": "demo", "severity": "warning"},
		Annotations: map[string]string{"summary": "Prometheus 127.0.0.1:19090 started " + age + " ago"},
		StartsAt:    intaketest.At("2026-11-23T20:11:28.867Z"),
		GroupKey:    groupWarmup,
		Title:       "Prometheus 127.0.0.1:19090 started " + age + " ago",
		Links:       []alert.Link{{Kind: "source", URL: warmupExpr}},
	}
	if endsAt != "" {
		a.EndsAt = intaketest.At(endsAt)
	}
	return a
}

// TestFixtures checks every body a real Alertmanager 0.25 sent (copied
// byte for byte from shared/fixtures/alertmanager) down to the last field.
func TestFixtures(t *testing.T) {
	const s1, s3 = "2026-11-23T20:11:18.867Z", "2026-11-23T20:11:28.867Z"
	truncatedGroup := `{}/{alertname="DemoHighLatency"}:{alertname="DemoHighLatency", service="checkout"}`
	// web-1 and web-2 fire first, in every group body.
	firstTwo := func(groupKey string) []alert.Alert {
		return []alert.Alert{
			latency(1, "e6e1075603b6e7c9", alert.Firing, s1, "", groupKey),
			latency(2, "6fa332ee06939b6c", alert.Firing, s1, "", groupKey),
		}
	}
	// max_alerts: 2 left web-3 out, and the body says so on every alert.
	truncated := firstTwo(truncatedGroup)
	for i := range truncated {
		truncated[i].Truncated = 1
	}
	tests := map[string][]alert.Alert{
		"firing-single.json":                       {serviceDown(groupDown)},
		"firing-single-bearer-token.json":          {serviceDown(groupDownSubroute)},
		"firing-single-basic-auth.json":            {serviceDown(groupDownSubroute)},
		"firing-single-with-instance-labels.json":  {warmup(alert.Firing, "10.75s", "")},
		"firing-group-2-alerts.json":               firstTwo(groupLatency),
		"firing-group-3-alerts.json":               append(firstTwo(groupLatency), latency(3, "1f837009838e12c7", alert.Firing, s3, "", groupLatency)),
		"firing-group-truncated-max-alerts-2.json": truncated,
		"firing-group-partially-resolved.json": append(firstTwo(groupLatency),
			latency(3, "1f837009838e12c7", alert.Resolved, s3, "2026-11-23T20:12:18.867Z", groupLatency)),
		"resolved-single.json": {warmup(alert.Resolved, "38.75s", "2026-11-23T20:11:58.867Z")},
		"resolved-group-last-alert.json": {
			latency(3, "1f837009838e12c7", alert.Resolved, "2026-11-23T20:09:18.867Z", "2026-11-23T20:10:08.867Z", groupLatency),
		},
	}
	intaketest.Golden(t, tests, func(_ string, body []byte) ([]alert.Alert, error) { return Parse(body) },
		func(t testing.TB, a alert.Alert) {
			if fp := alert.Fingerprint(a.Labels); fp != a.Fingerprint {
				t.Errorf("alert.Fingerprint(labels) = %s, Alertmanager sent %s", fp, a.Fingerprint)
			}
		})
}

func TestPartiallyResolved(t *testing.T) {
	got, err := Parse(intaketest.Fixture(t, "firing-group-partially-resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]alert.Status{}
	for _, a := range got {
		status[a.Labels["instance"]] = a.Status
		if (a.Status == alert.Firing) != a.EndsAt.IsZero() {
			t.Errorf("%s: status %s with EndsAt %v", a.Labels["instance"], a.Status, a.EndsAt)
		}
	}
	want := map[string]alert.Status{"web-1:8080": alert.Firing, "web-2:8080": alert.Firing, "web-3:8080": alert.Resolved}
	if !reflect.DeepEqual(status, want) {
		t.Errorf("statuses %v, want %v", status, want)
	}
}

// newerBody is firing-single.json as Alertmanager 0.34 would send it:
// notification_reason and routeLabels added, plus a key no release has yet.
const newerBody = `{
  "receiver": "quench",
  "status": "firing",
  "alerts": [{
    "status": "firing",
    "labels": {"alertname": "DemoServiceDown", "env": "e2e", "service": "demo", "severity": "critical"},
    "annotations": {"summary": "Demo service is down", "dashboard_url": "https://grafana.example.com/d/demo", "dashboard": "Demo overview"},
    "startsAt": "2026-11-23T20:11:18.867123456+01:00",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus:9090/graph?g0.expr=vector%281%29\u0026g0.tab=1",
    "fingerprint": "c1fd535dc93659ef"
  }],
  "notification_reason": "first notification",
  "groupLabels": {"alertname": "DemoServiceDown"},
  "commonLabels": {"alertname": "DemoServiceDown"},
  "commonAnnotations": {},
  "routeLabels": {"team": "platform"},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"DemoServiceDown\"}",
  "truncatedAlerts": 0,
  "somethingFromTheFuture": {"nested": [1, 2, 3]}
}`

func TestNewerVersionBody(t *testing.T) {
	got, err := Parse([]byte(newerBody))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d alerts", len(got))
	}
	a := got[0]
	if a.Fingerprint != "c1fd535dc93659ef" || a.GroupKey != `{}:{alertname="DemoServiceDown"}` || a.Title != "Demo service is down" {
		t.Errorf("got %+v", a)
	}
	if want := intaketest.At("2026-11-23T19:11:18.867123Z"); !a.StartsAt.Equal(want) || a.StartsAt.Location() != time.UTC {
		t.Errorf("StartsAt = %v, want %v in UTC with microseconds", a.StartsAt, want)
	}
	wantLinks := []alert.Link{
		{Kind: "source", URL: "http://prometheus:9090/graph?g0.expr=vector%281%29&g0.tab=1"},
		{Kind: "dashboard", URL: "https://grafana.example.com/d/demo"},
	}
	if !reflect.DeepEqual(a.Links, wantLinks) {
		t.Errorf("links = %+v, want %+v (the non-URL dashboard annotation must not become a link)", a.Links, wantLinks)
	}
}

func TestMissingFingerprintIsComputed(t *testing.T) {
	body := `{"version":"4","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"DemoServiceDown","env":"e2e","service":"demo","severity":"critical"}}]}`
	got, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Fingerprint != "c1fd535dc93659ef" {
		t.Errorf("fingerprint %s, want the one Alertmanager computes, c1fd535dc93659ef", got[0].Fingerprint)
	}
	if got[0].Title != "DemoServiceDown" {
		t.Errorf("title %q, want the alertname without a summary", got[0].Title)
	}
}

func TestEmptyAlerts(t *testing.T) {
	for _, body := range []string{`{"version":"4"}`, `{"version":"4","alerts":null}`, `{"version":"4","alerts":[]}`} {
		got, err := Parse([]byte(body))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: got %v, %v; want no alerts and no error", body, got, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	valid := string(intaketest.Fixture(t, "firing-single.json"))
	intaketest.Refuses(t, []intaketest.Bad{
		{Name: "empty body", Body: ``, Msg: "unexpected end"},
		{Name: "malformed JSON", Body: `{"version":"4",`, Msg: "invalid JSON"},
		{Name: "not an object", Body: `[1,2]`, Msg: "body: expected an object"},
		{Name: "trailing garbage", Body: valid + `garbage`, Msg: "invalid JSON"},
		{Name: "second JSON value", Body: valid + `{}`, Msg: "invalid JSON"},
		{Name: "wrong version", Body: strings.Replace(valid, `"version":"4"`, `"version":"3"`, 1), Msg: `version: got "3", want "4"`},
		{Name: "missing version", Body: `{"alerts":[]}`, Msg: `version: got ""`},
		{Name: "grafana body", Body: `{"version":"1","orgId":1,"alerts":[]}`, Msg: `version: got "1"`},
		{Name: "unknown status", Body: strings.Replace(valid, `"status":"firing","labels"`, `"status":"pending","labels"`, 1), Msg: `alerts[0].status: unknown status "pending"`},
		{Name: "missing status", Body: `{"version":"4","alerts":[{"labels":{}}]}`, Msg: `alerts[0].status: unknown status ""`},
		{Name: "null alert", Body: `{"version":"4","alerts":[null]}`, Msg: `alerts[0].status`},
		{Name: "label value not a string", Body: `{"version":"4","alerts":[{"status":"firing","labels":{"a":1}}]}`, Msg: "alerts.labels: expected a string, got JSON number"},
		{Name: "bad startsAt", Body: `{"version":"4","alerts":[{"status":"firing","startsAt":"yesterday"}]}`, Msg: `alerts[0].startsAt: "yesterday" is not an RFC 3339 time`},
		{Name: "alerts not an array", Body: `{"version":"4","alerts":{}}`, Msg: "alerts: expected an array"},
	}, Parse)
}

func TestTooManyAlerts(t *testing.T) {
	intaketest.BatchLimit(t, Parse, syntheticBody)
}

func TestUncleanTextIsNormalizedNotRefused(t *testing.T) {
	// \u0000 arrives as a NUL byte after decoding; raw 0xff and a lone
	// surrogate escape are invalid UTF-8 that encoding/json turns into
	// U+FFFD. None of them may reach the store, none is an error.
	body := "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\"," +
		"\"labels\":{\"alertname\":\"Disk\\u0000Full\",\"host\":\"db\xff1\",\"zone\":\"\\ud800x\"}," +
		"\"annotations\":{\"summary\":\"bad\\u0000\xfe\"}}]}"
	got, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a := got[0]
	want := map[string]string{"alertname": "Disk\uFFFDFull", "host": "db\uFFFD1", "zone": "\uFFFDx"}
	if !reflect.DeepEqual(a.Labels, want) {
		t.Errorf("labels = %q, want %q", a.Labels, want)
	}
	if a.Title != "bad\uFFFD\uFFFD" {
		t.Errorf("title = %q", a.Title)
	}
	if err := alert.CheckNormalized(a); err != nil {
		t.Error(err)
	}
}

func TestCapsApply(t *testing.T) {
	long := strings.Repeat("x", 5000)
	body := fmt.Sprintf(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":%q,%q:"v"},"annotations":{"summary":%q}}]}`, long, long, strings.Repeat("y", 70000))
	got, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := alert.CheckNormalized(got[0]); err != nil {
		t.Error(err)
	}
	if len(got[0].Labels["alertname"]) != alert.MaxLabelValueBytes {
		t.Errorf("alertname kept %d bytes", len(got[0].Labels["alertname"]))
	}
}

// syntheticBody builds a version-4 body with n firing alerts of one group,
// shaped like the captured ones.
func syntheticBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"receiver":"main","status":"firing","alerts":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"DemoHighLatency","env":"e2e","instance":"web-%d:8080","service":"checkout","severity":"warning"},"annotations":{"summary":"p99 latency on web-%d:8080 is 1.5s","runbook_url":"https://runbooks.example.com/latency"},"startsAt":"2026-11-23T20:11:18.867Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:19090/graph?g0.expr=up\u0026g0.tab=1","fingerprint":"%016x"}`, i, i, i)
	}
	b.WriteString(`],"groupLabels":{"alertname":"DemoHighLatency","service":"checkout"},"commonLabels":{"alertname":"DemoHighLatency"},"commonAnnotations":{},"externalURL":"http://127.0.0.1:19093","version":"4","groupKey":"{}/{}:{alertname=\"DemoHighLatency\", service=\"checkout\"}","truncatedAlerts":0}`)
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	bodies := []struct {
		name string
		body []byte
	}{
		{"fixture-3-alerts", intaketest.Fixture(b, "firing-group-3-alerts.json")},
		{"synthetic-10-alerts", syntheticBody(10)},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The fast decoder takes what Alertmanager really sends; the rest goes to
// encoding/json (FuzzDecodeFast checks they agree).
func TestDecodeFastTakesRealBodies(t *testing.T) {
	bodies := map[string][]byte{"synthetic": syntheticBody(10), "newer": []byte(newerBody)}
	for _, fx := range intaketest.Fixtures(t) {
		bodies[fx.Name] = fx.Body
	}
	for name, b := range bodies {
		var m message
		if !decodeFast(b, &m) || m.Version != Version || len(m.Alerts) == 0 {
			t.Errorf("%s: not taken: %+v", name, m)
		}
	}
	for _, b := range []string{`{"Version":"4"}`, `{"version":"4","version":"4"}`, `{"version":null}`, `{"version":"4"}x`} {
		if decodeFast([]byte(b), new(message)) {
			t.Errorf("%s taken", b)
		}
	}
}

// Parsing runs for every delivery, and its garbage was a good part of the
// server's collection work: object keys the webhook repeats per alert are
// not allocated, nor the paths of fields that only an error names (266
// allocations for 10 alerts, 493 before). Counted, not timed.
func TestParseAllocationsPerAlert(t *testing.T) {
	body := syntheticBody(10)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := Parse(body); err != nil {
			t.Fatal(err)
		}
	})
	if perAlert := allocs / 10; perAlert > 30 {
		t.Errorf("Parse allocates %.1f times per alert, want at most 30", perAlert)
	}
}
