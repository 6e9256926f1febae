package api_test

import (
	"fmt"

	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// Triage through the API, on both databases: a refused or bad request
// changes nothing; acknowledge, dismiss and snooze are audited with the
// caller; a dismissed alert leaves the default list and the inbox count
// until it resolves and fires again; a snoozed critical alert opens no
// incident until the snooze ends.
func TestTriageAPI(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ana := app.User(t, "ana", auth.RoleResponder)
		root := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ro := app.Token(t, "ana", auth.ScopeRead)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", root, map[string]any{"type": "generic", "name": "cron"})
		hook, tok := "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string)
		send := func(title, severity, status string) map[string]any {
			return app.Must(t, 200, "POST", hook, tok, map[string]any{"title": title, "severity": severity, "status": status,
				"fingerprint": title}).JSON
		}
		send("backup slow", "warning", "firing")
		send("disk noisy", "warning", "firing")
		list := func(q string) (titles string, waiting float64) {
			r := app.Must(t, 200, "GET", "/api/v1/alerts"+q, ana, nil)
			var out []string
			for _, a := range r.JSON["alerts"].([]any) {
				out = append(out, a.(map[string]any)["title"].(string))
			}
			return strings.Join(out, ","), r.JSON["waiting"].(float64)
		}
		if got, n := list(""); got != "disk noisy,backup slow" && got != "backup slow,disk noisy" || n != 2 {
			t.Fatalf("inbox %q, %v waiting", got, n)
		}

		// Refused and bad requests change nothing.
		app.Must(t, 403, "POST", "/api/v1/alerts/dismiss", ro, map[string]any{"alerts": []int{2}, "reason": "noise"})
		app.Must(t, 401, "POST", "/api/v1/alerts/ack", "", map[string]any{"alerts": []int{1}})
		app.Must(t, 422, "POST", "/api/v1/alerts/dismiss", ana, map[string]any{"alerts": []int{2}})
		app.Must(t, 404, "POST", "/api/v1/alerts/dismiss", ana, map[string]any{"alerts": []int{2, 99}, "reason": "noise"})
		app.Must(t, 400, "POST", "/api/v1/alerts/ack", ana, map[string]any{"alerts": []int{1}, "owner": "bo"})
		app.Must(t, 403, "POST", "/api/v1/alerts/snoozes", ro, map[string]any{"matchers": `a="b"`, "duration": "1h"})
		app.Must(t, 400, "POST", "/api/v1/alerts/snoozes", ana, map[string]any{"matchers": `a="b"`, "duration": "soon"})
		app.Must(t, 422, "POST", "/api/v1/alerts/snoozes", ana, map[string]any{"matchers": `a=`, "duration": "1h"})
		if got, n := list("?dismissed=true"); got != "" || n != 2 {
			t.Fatalf("refused requests changed the inbox: dismissed %q, %v waiting", got, n)
		}
		if r := app.Must(t, 200, "GET", "/api/v1/alerts/snoozes", ana, nil); len(r.JSON["snoozes"].([]any)) != 0 {
			t.Fatalf("a refused snooze was stored: %s", r.Body)
		}

		r := app.Must(t, 200, "POST", "/api/v1/alerts/ack", ana, map[string]any{"alerts": []int{1}})
		a := r.JSON["alerts"].([]any)[0].(map[string]any)
		if a["acked_by"] != "ana" || a["acked_at"] != app.Clock.Now().UTC().Format(time.RFC3339) {
			t.Fatalf("ack: %s", r.Body)
		}
		app.Must(t, 200, "POST", "/api/v1/alerts/dismiss", ana, map[string]any{"alerts": []int{2}, "reason": "known noise"})
		if got, n := list(""); got != "backup slow" || n != 1 {
			t.Fatalf("after dismissing: %q, %v waiting", got, n)
		}
		if got, _ := list("?dismissed=any"); !strings.Contains(got, "disk noisy") {
			t.Fatalf("dismissed=any: %q", got)
		}
		send("disk noisy", "warning", "resolved")
		if got, n := list(""); got != "backup slow" || n != 1 {
			t.Fatalf("after resolving: %q, %v waiting", got, n)
		}
		send("disk noisy", "warning", "firing")
		if got, n := list(""); !strings.Contains(got, "disk noisy") || n != 2 {
			t.Fatalf("after firing again: %q, %v waiting", got, n)
		}

		// Snooze: a critical alert would open an incident.
		sn := app.Must(t, 201, "POST", "/api/v1/alerts/snoozes", ana, map[string]any{"matchers": `severity="critical"`, "duration": "30m", "reason": "deploy"})
		if res := send("api down", "critical", "firing"); fmt.Sprint(res["opened"]) != "[]" || res["snoozed"] != float64(1) {
			t.Fatalf("snoozed alert: %v", res)
		}
		app.Clock.Advance(31 * time.Minute)
		if res := send("db down", "critical", "firing"); fmt.Sprint(res["opened"]) != "[1]" {
			t.Fatalf("after the snooze: %v", res)
		}
		app.Must(t, 404, "DELETE", fmt.Sprintf("/api/v1/alerts/snoozes/%d", 999), ana, nil)
		app.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/alerts/snoozes/%v", sn.JSON["id"]), ana, nil)

		audit := string(app.Must(t, 200, "GET", "/api/v1/audit", root, nil).Body)
		for _, want := range []string{"alerts_acknowledged", "alerts_dismissed", "snooze_created", "snooze_removed"} {
			if !strings.Contains(audit, `"action":"`+want+`"`) {
				t.Errorf("audit log lacks %s", want)
			}
		}
		if strings.Count(audit, `"actor":"ana"`) < 4 {
			t.Errorf("audit entries not by ana: %s", audit)
		}
	})
}
