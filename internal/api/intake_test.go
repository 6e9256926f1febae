package api_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

const amFixtures = "../intake/alertmanager/testdata/"

func fixture(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var integrations int

func integration(t testing.TB, app *testenv.App, typ, secret string) (string, string) {
	t.Helper()
	integrations++
	name := fmt.Sprintf("%s %d", typ, integrations)
	token, in, err := app.Svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: typ, Name: name, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return "/api/v1/intake/" + typ + "/" + in.ID, token
}

func alerts(t *testing.T, app *testenv.App, tok, query string) []map[string]any {
	t.Helper()
	r := app.Must(t, 200, "GET", "/api/v1/alerts"+query, tok, nil)
	var out []map[string]any
	for _, a := range r.JSON["alerts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

func total(t *testing.T, app *testenv.App, tok string) float64 {
	return app.Must(t, 200, "GET", "/api/v1/incidents", tok, nil).JSON["total"].(float64)
}

func TestAlertmanagerFixtures(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "alertmanager", "")

		// A critical alert opens an incident; posting it again changes nothing.
		for i := 0; i < 2; i++ {
			r := app.Request(t, "POST", url, itok, fixture(t, amFixtures+"firing-single-bearer-token.json"))
			if r.Status != 200 {
				t.Fatalf("post %d: %d %s", i, r.Status, r.Body)
			}
		}
		if n := total(t, app, tok); n != 1 {
			t.Fatalf("%v incidents after posting a critical alert twice", n)
		}
		inc := app.Must(t, 200, "GET", "/api/v1/incidents/1", tok, nil).JSON
		if inc["title"] != "Demo service is down" || inc["severity"] != "critical" || inc["detection_source"] != "alert" ||
			fmt.Sprint(inc["services"]) != "[demo]" || inc["phase"] != "active" {
			t.Fatalf("incident from alert: %v", inc)
		}
		all := alerts(t, app, tok, "")
		if len(all) != 1 || all[0]["received"] != 2.0 || all[0]["fingerprint"] != "c1fd535dc93659ef" || all[0]["incident"] != 1.0 {
			t.Fatalf("alerts after re-send: %v", all)
		}

		// Warnings go to the inbox, grouped by fingerprint.
		for _, f := range []string{"firing-group-2-alerts.json", "firing-group-3-alerts.json", "firing-group-3-alerts.json", "firing-single-with-instance-labels.json"} {
			app.Must(t, 200, "POST", url, itok, fixture(t, amFixtures+f))
		}
		if n := total(t, app, tok); n != 1 {
			t.Fatalf("warnings opened incidents: %v", n)
		}
		inbox := alerts(t, app, tok, "?unattached=true")
		if len(inbox) != 4 {
			t.Fatalf("inbox has %d alerts, want 4 (web-1..3, warmup)", len(inbox))
		}

		// The partially resolved group resolves exactly web-3.
		app.Must(t, 200, "POST", url, itok, fixture(t, amFixtures+"firing-group-partially-resolved.json"))
		resolved := alerts(t, app, tok, "?status=resolved")
		if len(resolved) != 1 || resolved[0]["labels"].(map[string]any)["instance"] != "web-3:8080" || resolved[0]["ends_at"] == nil {
			t.Fatalf("resolved after partial: %v", resolved)
		}
		if firing := alerts(t, app, tok, "?status=firing&match=alertname%3D%22DemoHighLatency%22"); len(firing) != 2 {
			t.Fatalf("still firing latency alerts: %d", len(firing))
		}
		// The resolved fixture resolves the warm-up alert only.
		app.Must(t, 200, "POST", url, itok, fixture(t, amFixtures+"resolved-single.json"))
		if r := alerts(t, app, tok, "?status=resolved"); len(r) != 2 {
			t.Fatalf("resolved count %d", len(r))
		}
		if n := total(t, app, tok); n != 1 {
			t.Fatalf("incidents: %v", n)
		}
	})
}

// Every fixture is accepted with its real headers' authentication styles.
func TestAlertmanagerAuthStyles(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	url, itok := integration(t, app, "alertmanager", "")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alertmanager:"+itok))
	if r := app.Request(t, "POST", url, "", fixture(t, amFixtures+"firing-single-basic-auth.json"), "Authorization", basic); r.Status != 200 {
		t.Fatalf("basic auth: %d %s", r.Status, r.Body)
	}
	// A user token with the ingest scope also works, a read token does not.
	app.User(t, "robot", auth.RoleResponder, auth.ScopeIngest)
	if r := app.Request(t, "POST", url, app.Token(t, "robot", auth.ScopeIngest), fixture(t, amFixtures+"firing-single.json")); r.Status != 200 {
		t.Fatalf("ingest token: %d %s", r.Status, r.Body)
	}
	if r := app.Request(t, "POST", url, app.Token(t, "robot", auth.ScopeRead), fixture(t, amFixtures+"firing-single.json")); r.Status != 401 {
		t.Fatalf("read token: %d %s", r.Status, r.Body)
	}
}

func TestIntakeBadInput(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "alertmanager", "")
		other, otherTok := integration(t, app, "generic", "")
		good := fixture(t, amFixtures+"firing-single.json")
		big := `{"version":"4","alerts":[],"receiver":"` + strings.Repeat("x", api.MaxIntakeBody) + `"}`
		tests := []struct {
			name    string
			path    string
			token   string
			body    string
			headers []string
			status  int
			code    string
		}{
			{"malformed", url, itok, `{"version":"4","alerts":[`, nil, 400, "invalid_payload"},
			{"wrong version", url, itok, strings.Replace(good, `"version":"4"`, `"version":"3"`, 1), nil, 400, "invalid_payload"},
			{"unknown status", url, itok, strings.Replace(good, `"status":"firing","labels"`, `"status":"pending","labels"`, 1), nil, 400, "invalid_payload"},
			{"text/plain", url, itok, good, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"too large", url, itok, big, nil, 413, "too_large"},
			{"no token", url, "", good, nil, 401, "unauthenticated"},
			{"wrong token", url, "qnch_int_wrong", good, nil, 401, "unauthenticated"},
			{"other integration's token", url, otherTok, good, nil, 401, "unauthenticated"},
			{"user token garbage", url, "nonsense", good, nil, 401, "unauthenticated"},
			{"wrong type in URL", strings.Replace(url, "alertmanager", "grafana", 1), itok, good, nil, 404, "not_found"},
			{"unknown integration", "/api/v1/intake/alertmanager/nope", itok, good, nil, 404, "not_found"},
			{"unknown type", "/api/v1/intake/nagios/x", itok, good, nil, 404, "not_found"},
			{"generic unknown field", other, otherTok, `{"title":"x","sumary":"typo"}`, nil, 400, "invalid_payload"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := app.Request(t, "POST", tt.path, tt.token, tt.body, tt.headers...)
				if r.Status != tt.status || r.Code() != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
				}
				if tt.status == 401 && r.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if n := len(alerts(t, app, tok, "")); n != 0 {
					t.Fatalf("refused delivery stored %d alerts", n)
				}
			})
		}
		// NUL and invalid UTF-8 in labels are stored as U+FFFD on both databases.
		body := `{"title":"nul test","labels":{"host":"a\u0000b","bad":"x` + "\xff" + `y","severity":"warning"}}`
		if r := app.Request(t, "POST", other, otherTok, body); r.Status != 200 {
			t.Fatalf("NUL label: %d %s", r.Status, r.Body)
		}
		got := alerts(t, app, tok, "")
		if len(got) != 1 || got[0]["labels"].(map[string]any)["host"] != "a\uFFFDb" || got[0]["labels"].(map[string]any)["bad"] != "x\uFFFDy" {
			t.Fatalf("stored labels: %v", got)
		}
	})
}

// A delivery without a valid token is refused before its body is read:
// the answer arrives while the sender has sent only the headers of a body
// near the limit (or of a chunked one), so an unauthenticated sender
// cannot make the server read and hold up to MaxIntakeBody.
func TestIntakeRefusedBeforeBody(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "alertmanager", "")
		generic, _ := integration(t, app, "generic", "")
		grafana, _ := integration(t, app, "grafana", "")
		sentryNoSecret, _ := integration(t, app, "sentry", "")
		length := fmt.Sprintf("Content-Length: %d\r\n", api.MaxIntakeBody-1<<20)
		tests := []struct {
			name, path, headers string
			status              int
			code                string
		}{
			{"no token", url, length, 401, "unauthenticated"},
			{"wrong token", url, length + "Authorization: Bearer qnch_int_wrong\r\n", 401, "unauthenticated"},
			{"user token garbage", url, length + "Authorization: Bearer nonsense\r\n", 401, "unauthenticated"},
			{"chunked", url, "Transfer-Encoding: chunked\r\n", 401, "unauthenticated"},
			{"generic", generic, length, 401, "unauthenticated"},
			{"grafana without secret", grafana, length, 401, "unauthenticated"},
			// No signature can be checked without the client secret.
			{"sentry without secret", sentryNoSecret, length, 409, "secret_missing"},
			{"unknown integration", "/api/v1/intake/alertmanager/nope", length + "Authorization: Bearer " + itok + "\r\n", 404, "not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				conn := dialApp(t, app)
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: quench\r\nContent-Type: application/json\r\n%s\r\n", tt.path, tt.headers)
				// The deadline only stops a server that waits for the
				// body from hanging the test.
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("no answer before the body was sent: %v", err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.status || !strings.Contains(string(b), `"code":"`+tt.code+`"`) {
					t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tt.status, tt.code)
				}
			})
		}
		// With the token, the server waits for the body and stores it.
		conn := dialApp(t, app)
		body := fixture(t, amFixtures+"firing-single.json")
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: quench\r\nContent-Type: application/json\r\nContent-Length: %d\r\nAuthorization: Bearer %s\r\n\r\n",
			url, len(body), itok)
		io.WriteString(conn, body)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("with the token: %d", resp.StatusCode)
		}
		if n := len(alerts(t, app, tok, "")); n != 1 {
			t.Fatalf("%d alerts stored, want 1", n)
		}
	})
}

// dialApp opens a raw connection to the app, for requests that stop
// partway.
func dialApp(t *testing.T, app *testenv.App) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(app.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSentrySignatureAndReplay(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		const secret = "sentry-client-secret"
		url, _ := integration(t, app, "sentry", secret)
		// Sentry errors are page-worthy here: route them to incidents.
		app.Must(t, 201, "POST", "/api/v1/rules", app.User(t, "root", auth.RoleAdmin, auth.ScopeAdmin), map[string]any{
			"position": 1, "matchers": `source="sentry"`, "action": "open"})
		body := fixture(t, "../intake/sentry/testdata/issue.created.json")
		post := func(sig, reqID, b string) *testenv.Response {
			return app.Request(t, "POST", url, "", b, "Sentry-Hook-Resource", "issue", "Sentry-Hook-Signature", sig, "Request-ID", reqID,
				"Sentry-Hook-Timestamp", fmt.Sprint(app.Svc.Now().Unix()))
		}
		tampered := strings.Replace(body, `"`, `'`, 1)
		for name, r := range map[string]*testenv.Response{
			"missing":  post("", "r0", body),
			"forged":   post(sign("guess", body), "r0", body),
			"tampered": post(sign(secret, body), "r0", tampered),
			"1 byte":   post(sign(secret, body), "r0", body+" "),
		} {
			if r.Status != 401 {
				t.Errorf("%s signature: %d %s", name, r.Status, r.Body)
			}
		}
		if n := len(alerts(t, app, tok, "")); n != 0 {
			t.Fatalf("bad signatures stored %d alerts", n)
		}
		r := post(sign(secret, body), "req-1", body)
		if r.Status != 200 || fmt.Sprint(r.JSON["opened"]) != "[1]" {
			t.Fatalf("signed delivery: %d %s", r.Status, r.Body)
		}
		r = post(sign(secret, body), "req-1", body)
		if r.Status != 200 || r.JSON["replayed"] != true {
			t.Fatalf("replay: %d %s", r.Status, r.Body)
		}
		inc := app.Must(t, 200, "GET", "/api/v1/incidents/1", tok, nil).JSON
		if total(t, app, tok) != 1 || inc["detection_source"] != "exception" {
			t.Fatalf("after replay: %v", inc)
		}
		if a := alerts(t, app, tok, ""); len(a) != 1 || a[0]["received"] != 1.0 {
			t.Fatalf("replay changed the alert: %v", a)
		}
	})
}

func TestGrafanaSignedAndBearer(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	tok := app.User(t, "ana", auth.RoleResponder)
	body := fixture(t, "../intake/grafana/testdata/firing-dashboard-linked.json")
	plain, ptok := integration(t, app, "grafana", "")
	if r := app.Request(t, "POST", plain, ptok, body); r.Status != 200 {
		t.Fatalf("grafana bearer: %d %s", r.Status, r.Body)
	}
	signed, _ := integration(t, app, "grafana", "hmac-secret")
	if r := app.Request(t, "POST", signed, "", body, "X-Grafana-Alerting-Signature", sign("wrong", body)); r.Status != 401 {
		t.Fatalf("bad grafana signature: %d", r.Status)
	}
	if r := app.Request(t, "POST", signed, "", body, "X-Grafana-Alerting-Signature", sign("hmac-secret", body)); r.Status != 200 {
		t.Fatalf("signed grafana: %d %s", r.Status, r.Body)
	}
	a := alerts(t, app, tok, "")
	if len(a) == 0 || len(a[0]["links"].([]any)) == 0 {
		t.Fatalf("grafana alerts lack links: %v", a)
	}
}

// Alerts attach to the open incident of their group, never move phases,
// and the timeline says once when all of them resolved.
func TestAttachAndResolvedHint(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "generic", "")
		send := func(body string) map[string]any {
			return app.Must(t, 200, "POST", url, itok, body).JSON
		}
		disk := func(host, status string) string {
			return `{"title":"disk full on ` + host + `","status":"` + status + `","severity":"critical","service":"db","group_key":"disk","labels":{"host":"` + host + `"}}`
		}
		r := send(`{"alerts":[` + disk("db-1", "firing") + `,` + disk("db-2", "firing") + `]}`)
		if fmt.Sprint(r["opened"]) != "[1]" || total(t, app, tok) != 1 {
			t.Fatalf("two alerts of one group: %v", r)
		}
		if n := len(alerts(t, app, tok, "?unattached=true")); n != 0 {
			t.Fatalf("%d alerts unattached", n)
		}
		// A third host joins the same incident.
		r = send(disk("db-3", "firing"))
		if fmt.Sprint(r["attached"]) != "[1]" || total(t, app, tok) != 1 {
			t.Fatalf("third alert: %v", r)
		}
		hint := func() (bool, int) {
			inc := app.Must(t, 200, "GET", "/api/v1/incidents/1", tok, nil).JSON
			n := 0
			for _, e := range app.Must(t, 200, "GET", "/api/v1/incidents/1/timeline", tok, nil).JSON["events"].([]any) {
				if e.(map[string]any)["kind"] == "alerts_resolved" {
					n++
				}
			}
			return inc["alerts_resolved"].(bool), n
		}
		resolve := func(host string) { send(disk(host, "resolved")) }
		resolve("db-1")
		// A delivery that opens and joins nothing answers empty lists,
		// as the test alert does, not null.
		if r := app.Must(t, 200, "POST", url, itok, disk("db-2", "resolved")); !strings.Contains(string(r.Body), `"opened":[],"attached":[]`) {
			t.Fatalf("a resolving delivery: %s", r.Body)
		}
		if on, n := hint(); on || n != 0 {
			t.Fatalf("hint with one alert firing: %v %d", on, n)
		}
		resolve("db-3")
		resolve("db-3")
		if on, n := hint(); !on || n != 1 {
			t.Fatalf("hint after all resolved: %v, %d events", on, n)
		}
		inc := app.Must(t, 200, "GET", "/api/v1/incidents/1", tok, nil).JSON
		if inc["phase"] != "active" {
			t.Fatal("alerts moved the incident")
		}
		// It fires again: the hint goes, and comes back (once more) later.
		send(disk("db-1", "firing"))
		if on, _ := hint(); on {
			t.Fatal("hint stayed while an alert fires again")
		}
		resolve("db-1")
		if on, n := hint(); !on || n != 2 {
			t.Fatalf("second all-resolved: %v %d", on, n)
		}
		// Alert details are internal: viewers see no alert event.
		anon := app.Request(t, "GET", "/api/v1/incidents/1/timeline", "", nil)
		if strings.Contains(string(anon.Body), "db-2") || strings.Contains(string(anon.Body), "alert_attached") ||
			strings.Contains(string(anon.Body), "generic 1") || strings.Contains(string(anon.Body), "fingerprint") {
			t.Fatalf("viewer timeline shows alert details: %s", anon.Body)
		}
		if r := app.Request(t, "GET", "/api/v1/alerts", "", nil); r.Status != 401 {
			t.Fatalf("anonymous alert list: %d", r.Status)
		}
	})
}

func TestDeclareAndAttachFromInbox(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		url, itok := integration(t, app, "generic", "")
		app.Must(t, 200, "POST", url, itok, `{"alerts":[{"title":"queue growing","severity":"warning","service":"umb"},{"title":"consumer lag","severity":"warning","service":"umb"},{"title":"cert expires soon","severity":"info"}]}`)
		inbox := alerts(t, app, tok, "?unattached=true")
		if len(inbox) != 3 || total(t, app, tok) != 0 {
			t.Fatalf("inbox %d, incidents %v", len(inbox), total(t, app, tok))
		}
		ids := map[string]float64{}
		for _, a := range inbox {
			ids[a["title"].(string)] = a["id"].(float64)
		}
		r := app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/alerts/%v/declare", ids["queue growing"]), tok, map[string]any{"severity": "major"})
		if r.JSON["title"] != "queue growing" || r.JSON["severity"] != "major" || fmt.Sprint(r.JSON["services"]) != "[umb]" {
			t.Fatalf("declared: %s", r.Body)
		}
		n := int64(r.JSON["number"].(float64))
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/alerts", n), tok, map[string]any{"alerts": []float64{ids["consumer lag"]}})
		got := app.Must(t, 200, "GET", fmt.Sprintf("/api/v1/incidents/%d/alerts", n), tok, nil).JSON["alerts"].([]any)
		if len(got) != 2 {
			t.Fatalf("incident alerts: %d", len(got))
		}
		// An alert that belongs to an open incident cannot be declared again.
		r2 := app.Request(t, "POST", fmt.Sprintf("/api/v1/alerts/%v/declare", ids["consumer lag"]), tok, map[string]any{})
		if r2.Status != 409 || r2.Code() != "alert_attached" {
			t.Fatalf("declare attached alert: %d %s", r2.Status, r2.Body)
		}
		if r := app.Request(t, "POST", "/api/v1/alerts/999/declare", tok, map[string]any{}); r.Status != 404 {
			t.Fatalf("declare unknown alert: %d", r.Status)
		}
		if r := app.Request(t, "POST", fmt.Sprintf("/api/v1/alerts/%v/declare", ids["cert expires soon"]), app.Token(t, "ana", auth.ScopeRead), map[string]any{}); r.Status != 403 {
			t.Fatalf("declare with read token: %d", r.Status)
		}
	})
}

func TestIntegrationAdmin(t *testing.T) {
	app := testenv.StartApp(t, "sqlite")
	admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin)
	responder := app.User(t, "ana", auth.RoleResponder)
	r := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "alertmanager", "name": "prod"})
	token, url := r.JSON["token"].(string), r.JSON["url"].(string)
	if !strings.HasPrefix(token, "qnch_int_") || !strings.HasPrefix(url, app.URL+"/api/v1/intake/alertmanager/") ||
		!strings.Contains(r.JSON["snippet"].(string), token) || !strings.Contains(r.JSON["snippet"].(string), "webhook_configs") {
		t.Fatalf("create answer: %s", r.Body)
	}
	list := app.Must(t, 200, "GET", "/api/v1/integrations", admin, nil)
	if strings.Contains(string(list.Body), token) {
		t.Fatal("list shows the token again")
	}
	s := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "sentry", "name": "sentry", "secret": "topsecret"})
	if strings.Contains(string(s.Body), "topsecret") || s.JSON["signed"] != true {
		t.Fatalf("sentry secret echoed: %s", s.Body)
	}
	// Sentry shows its secret only after it knows the URL: it comes later.
	if r := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "sentry", "name": "no secret yet"}); r.JSON["signed"] != false {
		t.Fatalf("sentry without a secret: %s", r.Body)
	}
	for _, bad := range []map[string]any{{"type": "nagios", "name": "x"}, {"type": "generic", "name": "y", "secret": "s"}, {"type": "alertmanager", "name": ""}} {
		if r := app.Request(t, "POST", "/api/v1/integrations", admin, bad); r.Status != 422 {
			t.Errorf("%v: %d", bad, r.Status)
		}
	}
	if r := app.Request(t, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "prod"}); r.Status != 409 {
		t.Errorf("duplicate name: %d", r.Status)
	}
	if r := app.Request(t, "POST", "/api/v1/integrations", responder, map[string]any{"type": "generic", "name": "x"}); r.Status != 403 {
		t.Errorf("responder creates integration: %d", r.Status)
	}
	id := r.JSON["id"].(string)
	app.Must(t, 204, "DELETE", "/api/v1/integrations/"+id, admin, nil)
	if r := app.Request(t, "POST", strings.TrimPrefix(url, app.URL), token, fixture(t, amFixtures+"firing-single.json")); r.Status != 404 {
		t.Fatalf("deleted integration still accepts: %d", r.Status)
	}
	// Rules: bad matchers are refused; the default set is listed.
	if r := app.Request(t, "POST", "/api/v1/rules", admin, map[string]any{"matchers": `severity=~"(("`, "action": "open"}); r.Status != 422 {
		t.Fatalf("bad regex rule: %d %s", r.Status, r.Body)
	}
	rules := app.Must(t, 200, "GET", "/api/v1/rules", responder, nil).JSON["rules"].([]any)
	if len(rules) != 2 || rules[0].(map[string]any)["action"] != "open" {
		t.Fatalf("default rules: %v", rules)
	}
}
