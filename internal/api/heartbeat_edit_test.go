package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// Editing and rotating a heartbeat over HTTP, on both databases, with the
// fake clock: a new period computes the deadline again from the last
// ping; a refused or bad edit changes nothing; new labels go on the next
// alert; a rotation answers the new ping URL once, the old one answers 404
// at once and the heartbeat keeps its state and history; both are audited.
func TestHeartbeatEditAndRotate(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ana := app.User(t, "ana", auth.RoleResponder)
		t0 := app.Clock.Now()
		r := app.Must(t, 201, "POST", "/api/v1/heartbeats", admin, map[string]any{"name": "nightly-backup", "period": "1h", "grace": "10m",
			"labels": map[string]string{"service": "backup"}})
		id := r.JSON["id"].(string)
		oldPing := strings.TrimPrefix(r.JSON["ping_url"].(string), app.URL)
		app.Must(t, 201, "POST", "/api/v1/heartbeats", admin, map[string]any{"name": "other", "period": "1h"})
		app.Clock.Advance(30 * time.Minute)
		app.Must(t, 200, "POST", oldPing, "", nil)
		path := "/api/v1/heartbeats/" + id
		deadline := func(r *testenv.Response) string { s, _ := r.JSON["deadline"].(string); return s }
		at := func(d time.Duration) string { return t0.Add(d).UTC().Format(time.RFC3339) }
		if got := deadline(app.Must(t, 200, "GET", path, admin, nil)); got != at(30*time.Minute+70*time.Minute) {
			t.Fatalf("deadline after the ping %s", got)
		}

		// Refused and bad edits change nothing.
		app.Must(t, 403, "PATCH", path, ana, map[string]any{"period": "2h"})
		app.Must(t, 401, "PATCH", path, "", map[string]any{"period": "2h"})
		app.Must(t, 422, "PATCH", path, admin, map[string]any{"period": "30s"})
		app.Must(t, 422, "PATCH", path, admin, map[string]any{"grace": "30d"})
		app.Must(t, 422, "PATCH", path, admin, map[string]any{})
		app.Must(t, 422, "PATCH", path, admin, map[string]any{"name": "  "})
		app.Must(t, 400, "PATCH", path, admin, map[string]any{"period": "2h", "color": "red"})
		app.Must(t, 409, "PATCH", path, admin, map[string]any{"name": "other", "period": "2h"})
		app.Must(t, 404, "PATCH", "/api/v1/heartbeats/nope", admin, map[string]any{"period": "2h"})
		app.Must(t, 404, "POST", "/api/v1/heartbeats/nope/rotate", admin, nil)
		app.Must(t, 403, "POST", path+"/rotate", ana, nil)
		got := app.Must(t, 200, "GET", path, admin, nil)
		if got.JSON["name"] != "nightly-backup" || got.JSON["period"] != "1h" || got.JSON["grace"] != "10m" || deadline(got) != at(100*time.Minute) {
			t.Fatalf("refused edits changed the heartbeat: %s", got.Body)
		}
		app.Must(t, 200, "POST", oldPing, "", nil) // the key still works
		app.Clock.Advance(0)

		// A longer period: due two hours and the grace after the last ping.
		e := app.Must(t, 200, "PATCH", path, admin, map[string]any{"period": "2h"})
		if e.JSON["period"] != "2h" || e.JSON["grace"] != "10m" || deadline(e) != at(30*time.Minute+130*time.Minute) || e.JSON["ping_url"] != nil {
			t.Fatalf("after period 2h: %s", e.Body)
		}
		// A shorter one, renamed and relabelled: due at 30m+20m+10m.
		e = app.Must(t, 200, "PATCH", path, admin, map[string]any{"period": "20m", "name": "hourly-backup", "labels": map[string]string{"service": "db"}})
		if e.JSON["name"] != "hourly-backup" || deadline(e) != at(60*time.Minute) || e.JSON["labels"].(map[string]any)["service"] != "db" {
			t.Fatalf("after period 20m: %s", e.Body)
		}
		app.Clock.Advance(29 * time.Minute)
		if n, err := app.Svc.CheckHeartbeats(ctx); err != nil || n != 0 {
			t.Fatalf("check a minute before the new deadline: %d %v", n, err)
		}
		app.Clock.Advance(time.Minute)
		if n, err := app.Svc.CheckHeartbeats(ctx); err != nil || n != 1 {
			t.Fatalf("check at the new deadline: %d %v", n, err)
		}
		alerts := app.Must(t, 200, "GET", "/api/v1/alerts?status=firing", admin, nil)
		if !strings.Contains(string(alerts.Body), `"service":"db"`) || !strings.Contains(string(alerts.Body), "hourly-backup") {
			t.Fatalf("the missed alert lacks the new name and labels: %s", alerts.Body)
		}

		// Rotation: the new URL once, the old one dead at once.
		rot := app.Must(t, 200, "POST", path+"/rotate", admin, nil)
		newPing := strings.TrimPrefix(rot.JSON["ping_url"].(string), app.URL)
		if newPing == oldPing || !strings.HasPrefix(newPing, "/api/v1/ping/hb_") || rot.JSON["state"] != "down" {
			t.Fatalf("rotate answer: %s", rot.Body)
		}
		for _, suffix := range []string{"", "/start", "/fail"} {
			if r := app.Request(t, "POST", oldPing+suffix, "", nil); r.Status != 404 {
				t.Fatalf("old URL%s after rotating: %d %s", suffix, r.Status, r.Body)
			}
		}
		if g := app.Must(t, 200, "GET", path, admin, nil); g.JSON["ping_url"] != nil || g.JSON["pings"] != float64(2) {
			t.Fatalf("after rotating: %s", g.Body)
		}
		if r := app.Must(t, 200, "POST", newPing, "", nil); r.JSON["state"] != "up" {
			t.Fatalf("new URL: %s", r.Body)
		}
		audit := string(app.Must(t, 200, "GET", "/api/v1/audit", admin, nil).Body)
		if strings.Count(audit, "heartbeat_changed") != 2 || strings.Count(audit, "heartbeat_rotated") != 1 {
			t.Fatalf("audit: %s", audit)
		}
	})
}
