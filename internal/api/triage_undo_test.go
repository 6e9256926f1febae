package api_test

import (
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// Undoing triage through the API, on both databases: an acknowledged
// alert is acknowledged no more, a dismissed one waits in the inbox (and
// counts) again; both are the team's, audited, in bulk; an alert that is
// not acknowledged (not dismissed) is a 409 and, in a bulk request,
// nothing changes.
func TestTriageUndoAPI(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ana := app.User(t, "ana", auth.RoleResponder)
		root := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ro := app.Token(t, "ana", auth.ScopeRead)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", root, map[string]any{"type": "generic", "name": "cron"})
		hook, tok := "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string)
		for _, title := range []string{"a", "b", "c"} {
			app.Must(t, 200, "POST", hook, tok, map[string]any{"title": title, "fingerprint": title, "severity": "warning"})
		}
		state := func() (triage string, waiting float64) {
			r := app.Must(t, 200, "GET", "/api/v1/alerts?dismissed=any", ana, nil)
			var parts []string
			for _, a := range r.JSON["alerts"].([]any) {
				m := a.(map[string]any)
				s := m["title"].(string) + ":"
				if m["acked_by"] != nil && m["acked_by"] != "" {
					s += "acked"
				}
				if m["dismissed_by"] != nil && m["dismissed_by"] != "" {
					s += "dismissed"
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, " "), r.JSON["waiting"].(float64)
		}
		app.Must(t, 200, "POST", "/api/v1/alerts/ack", ana, map[string]any{"alerts": []int{1, 2}})
		app.Must(t, 200, "POST", "/api/v1/alerts/dismiss", ana, map[string]any{"alerts": []int{2, 3}, "reason": "noise"})
		before, n := state()
		if before != "c:dismissed b:ackeddismissed a:acked" || n != 1 {
			t.Fatalf("after triage: %q, %v waiting", before, n)
		}

		// Refused and bad requests change nothing.
		app.Must(t, 403, "POST", "/api/v1/alerts/unack", ro, map[string]any{"alerts": []int{1}})
		app.Must(t, 401, "POST", "/api/v1/alerts/restore", "", map[string]any{"alerts": []int{2}})
		for _, path := range []string{"/api/v1/alerts/unack", "/api/v1/alerts/restore"} {
			app.Must(t, 422, "POST", path, ana, map[string]any{"alerts": []int{}})
			app.Must(t, 404, "POST", path, ana, map[string]any{"alerts": []int{2, 99}})
			app.Must(t, 400, "POST", path, ana, map[string]any{"alerts": []int{2}, "reason": "oops"})
		}
		if r := app.Must(t, 409, "POST", "/api/v1/alerts/unack", ana, map[string]any{"alerts": []int{1, 3}}); r.Code() != "not_acknowledged" {
			t.Fatalf("unack of an alert not acknowledged: %s", r.Body)
		}
		if r := app.Must(t, 409, "POST", "/api/v1/alerts/restore", ana, map[string]any{"alerts": []int{1, 2}}); r.Code() != "not_dismissed" {
			t.Fatalf("restore of an alert not dismissed: %s", r.Body)
		}
		if after, m := state(); after != before || m != n {
			t.Fatalf("refused undos changed the inbox: %q, %v waiting", after, m)
		}

		r := app.Must(t, 200, "POST", "/api/v1/alerts/unack", ana, map[string]any{"alerts": []int{1, 2}})
		if len(r.JSON["alerts"].([]any)) != 2 {
			t.Fatalf("unack answer: %s", r.Body)
		}
		r = app.Must(t, 200, "POST", "/api/v1/alerts/restore", root, map[string]any{"alerts": []int{2, 3}})
		if a := r.JSON["alerts"].([]any)[0].(map[string]any); a["dismissed_by"] != nil && a["dismissed_by"] != "" {
			t.Fatalf("restore answer: %s", r.Body)
		}
		if after, m := state(); after != "c: b: a:" || m != 3 {
			t.Fatalf("after undoing: %q, %v waiting", after, m)
		}
		// Undone twice is a conflict.
		app.Must(t, 409, "POST", "/api/v1/alerts/unack", ana, map[string]any{"alerts": []int{1}})
		app.Must(t, 409, "POST", "/api/v1/alerts/restore", ana, map[string]any{"alerts": []int{3}})
		audit := string(app.Must(t, 200, "GET", "/api/v1/audit", root, nil).Body)
		if strings.Count(audit, `"alerts_unacknowledged"`) != 1 || strings.Count(audit, `"alerts_restored"`) != 1 ||
			!strings.Contains(audit, `"noise"`) {
			t.Fatalf("audit: %s", audit)
		}
	})
}
