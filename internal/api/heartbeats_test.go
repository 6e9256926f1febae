package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The whole heartbeat over HTTP, as a cron job and an admin use it: the
// create answer holds the ping URL; pings need no token or session, by GET
// or POST; a failure with its log fires at once and reaches the inbox; a
// wrong key is 404 and stores nothing; a log over the limit is 413 and
// stores nothing. On a private instance too: the key is the credential.
func TestHeartbeatOverHTTP(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		private := testenv.StartApp(t, store.SQLite, func(o *service.Options) { o.PrivateInstance = true })
		for _, app := range []*testenv.App{app, private} {
			admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
			ana := app.User(t, "ana", auth.RoleResponder)
			body := map[string]any{"name": "nightly-backup", "period": "1h", "grace": "10m", "labels": map[string]string{"service": "backup"}}
			app.Must(t, 403, "POST", "/api/v1/heartbeats", ana, body)
			r := app.Must(t, 201, "POST", "/api/v1/heartbeats", admin, body)
			pingURL, _ := r.JSON["ping_url"].(string)
			if !strings.HasPrefix(pingURL, app.URL+"/api/v1/ping/hb_") || r.JSON["period"] != "1h" || r.JSON["grace"] != "10m" ||
				r.JSON["state"] != "up" || r.JSON["labels"].(map[string]any)["service"] != "backup" {
				t.Fatalf("create answer: %s", r.Body)
			}
			id := r.JSON["id"].(string)
			ping := strings.TrimPrefix(pingURL, app.URL)
			list := app.Must(t, 200, "GET", "/api/v1/heartbeats", admin, nil)
			if strings.Contains(string(list.Body), strings.TrimPrefix(ping, api.PingPrefix)) || !strings.Contains(string(list.Body), "nightly-backup") {
				t.Fatalf("list: %s", list.Body)
			}
			app.Must(t, 409, "POST", "/api/v1/heartbeats", admin, body)
			app.Must(t, 422, "POST", "/api/v1/heartbeats", admin, map[string]any{"name": "x", "period": "30s"})
			app.Must(t, 400, "POST", "/api/v1/heartbeats", admin, map[string]any{"name": "x", "period": "1h", "color": "red"})

			// A bare curl: no token, no content type. A user's token or
			// a broken one does not matter either.
			for _, m := range []string{"GET", "POST"} {
				for _, suffix := range []string{"", "/start"} {
					if r := app.Request(t, m, ping+suffix, "", nil); r.Status != 200 || r.JSON["state"] != "up" {
						t.Fatalf("%s %s: %d %s", m, suffix, r.Status, r.Body)
					}
				}
			}
			app.Must(t, 200, "GET", ping, "not-a-token", nil)

			wrong := []string{api.PingPrefix + "hb_wrong", api.PingPrefix + "hb_wrong/fail", ping + "x/fail", api.PingPrefix + id, api.PingPrefix + id + "/fail"}
			for _, p := range wrong {
				if r := app.Request(t, "POST", p, "", "log"); r.Status != 404 || r.Code() != "not_found" {
					t.Fatalf("POST %s: %d %s", p, r.Status, r.Body)
				}
			}
			big := strings.Repeat("x", api.MaxPingBody+1)
			if r := app.Request(t, "POST", ping+"/fail", "", big, "Content-Type", "text/plain"); r.Status != 413 {
				t.Fatalf("big log: %d", r.Status)
			}
			hb := app.Must(t, 200, "GET", "/api/v1/heartbeats/nightly-backup", admin, nil)
			if hb.JSON["state"] != "up" || hb.JSON["pings"] != float64(5) || hb.JSON["last_log"] != nil {
				t.Fatalf("wrong keys or a refused log changed the heartbeat: %s", hb.Body)
			}
			if alerts := app.Must(t, 200, "GET", "/api/v1/alerts", admin, nil); strings.Contains(string(alerts.Body), "Heartbeat") {
				t.Fatalf("wrong keys raised an alert: %s", alerts.Body)
			}

			log := strings.Repeat("line\n", 5000) + "pg_dump: error: connection to server failed"
			if r := app.Request(t, "POST", ping+"/fail", "", log, "Content-Type", "application/x-www-form-urlencoded"); r.Status != 200 || r.JSON["state"] != "down" {
				t.Fatalf("fail: %d %s", r.Status, r.Body)
			}
			alerts := app.Must(t, 200, "GET", "/api/v1/alerts?status=firing", admin, nil)
			if !strings.Contains(string(alerts.Body), "HeartbeatFailed") || !strings.Contains(string(alerts.Body), "connection to server failed") {
				t.Fatalf("alerts after fail: %s", alerts.Body)
			}
			hb = app.Must(t, 200, "GET", "/api/v1/heartbeats/"+id, admin, nil)
			if l := hb.JSON["last_log"].(string); len(l) > 8192 || !strings.HasSuffix(l, "connection to server failed") {
				t.Fatalf("last_log of %d bytes", len(l))
			}
			app.Must(t, 200, "GET", ping, "", nil)
			if alerts := app.Must(t, 200, "GET", "/api/v1/alerts?status=firing", admin, nil); strings.Contains(string(alerts.Body), "Heartbeat") {
				t.Fatalf("the ping did not resolve: %s", alerts.Body)
			}

			// Missed, through the check the job runs.
			app.Clock.Advance(71 * time.Minute)
			if n, err := app.Svc.CheckHeartbeats(context.Background()); err != nil || n != 1 {
				t.Fatalf("check: %d %v", n, err)
			}
			if alerts := app.Must(t, 200, "GET", "/api/v1/alerts?status=firing", admin, nil); !strings.Contains(string(alerts.Body), "HeartbeatMissed") {
				t.Fatalf("no missed alert: %s", alerts.Body)
			}
			app.Must(t, 403, "DELETE", "/api/v1/heartbeats/"+id, ana, nil)
			app.Must(t, 204, "DELETE", "/api/v1/heartbeats/"+id, admin, nil)
			app.Must(t, 404, "GET", ping, "", nil)
			app.Must(t, 404, "DELETE", "/api/v1/heartbeats/"+id, admin, nil)
		}
	})
}

// POST /api/v1/integrations/{id}/test: the test alert goes through the
// rules, and the answer says where.
func TestIntegrationTestEndpoint(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		id := in.JSON["id"].(string)
		// A rule sends test alerts of this integration to the inbox,
		// whatever their severity.
		app.Must(t, 201, "POST", "/api/v1/rules", admin, map[string]any{"position": 1, "matchers": `quench_test="true"`, "action": "inbox", "integration": id})
		r := app.Request(t, "POST", "/api/v1/integrations/"+id+"/test", admin, nil)
		if opened, _ := r.JSON["result"].(map[string]any)["opened"].([]any); r.Status != 201 || len(opened) != 0 || r.JSON["labels"].(map[string]any)["quench_test"] != "true" {
			t.Fatalf("test with an inbox rule: %d %s", r.Status, r.Body)
		}
		app.Must(t, 422, "POST", "/api/v1/integrations/"+id+"/test", admin, map[string]any{"severity": "very bad"})
		app.Must(t, 404, "POST", "/api/v1/integrations/nosuch/test", admin, map[string]any{})
		app.Must(t, 404, "POST", "/api/v1/integrations/heartbeat/test", admin, map[string]any{})
		if list := app.Must(t, 200, "GET", "/api/v1/integrations", admin, nil); strings.Contains(string(list.Body), `"heartbeat"`) {
			t.Fatalf("the built-in heartbeat integration is listed: %s", list.Body)
		}
		app.Must(t, 409, "DELETE", "/api/v1/integrations/heartbeat", admin, nil)
	})
}
