package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// On the status page a published incident that was cancelled reads as
// resolved with its last public update, and a merged one points to the
// one it continues in, never naming one customers do not see (a
// confidential or unpublished incident).
func TestStatusPageMergedAndCancelled(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		open := func(body map[string]any) int64 {
			return int64(app.Must(t, 201, "POST", "/api/v1/incidents", tok, body).JSON["number"].(float64))
		}
		publish := func(n int64, title string) {
			app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", n), tok, map[string]any{"on_status_page": true, "status_title": title})
		}
		update := func(n int64, body string) {
			app.Must(t, 201, "POST", fmt.Sprintf("/api/v1/incidents/%d/updates", n), tok, map[string]any{"body": body, "visibility": "public"})
			app.Clock.Advance(time.Minute)
		}
		falseAlarm := open(map[string]any{"title": "Checkout errors", "severity": "critical"})
		publish(falseAlarm, "Checkout errors")
		update(falseAlarm, "We are looking into it")
		update(falseAlarm, "It was a test of our monitoring; nothing was affected")
		dup := open(map[string]any{"title": "Slow pages"})
		publish(dup, "Slow pages")
		target := open(map[string]any{"title": "Slow shop"})
		publish(target, "Shop is slow")
		hiddenDup := open(map[string]any{"title": "Login fails"})
		publish(hiddenDup, "Login fails")
		secret := open(map[string]any{"title": "SECRET-target-title", "visibility": "confidential"})
		unpublishedDup := open(map[string]any{"title": "Search fails"})
		publish(unpublishedDup, "Search fails")
		unpublished := open(map[string]any{"title": "UNPUBLISHED-target-title"})

		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/cancel", falseAlarm), tok, map[string]any{"reason": "a monitoring test"})
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/merge", dup), tok, map[string]any{"into": target, "reason": "same"})
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/merge", hiddenDup), tok, map[string]any{"into": secret, "reason": "SECRET-reason"})
		app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/merge", unpublishedDup), tok, map[string]any{"into": unpublished, "reason": "same"})
		app.Clock.Advance(time.Minute)

		var page struct {
			Open []map[string]any `json:"incidents"`
			Past []map[string]any `json:"past_incidents"`
		}
		r := app.Must(t, 200, "GET", "/status.json", "", nil)
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		byTitle := map[string]map[string]any{}
		for _, i := range append(page.Open, page.Past...) {
			byTitle[i["title"].(string)] = i
		}
		for _, title := range []string{"Checkout errors", "Slow pages", "Login fails", "Search fails"} {
			i := byTitle[title]
			if i == nil || i["state"] != "resolved" || i["resolved_at"] == nil {
				t.Errorf("%s on the status page: %v, want resolved", title, i)
			}
		}
		if ups := byTitle["Checkout errors"]["updates"].([]any); len(ups) != 1 || ups[0].(map[string]any)["body"] != "It was a test of our monitoring; nothing was affected" {
			t.Errorf("the cancelled incident's updates: %v, want its last public one", ups)
		}
		if got, want := byTitle["Slow pages"]["merged_into"], byTitle["Shop is slow"]["id"]; got != want || want == nil {
			t.Errorf("merged into a published incident: merged_into %v, want %v", got, want)
		}
		for _, title := range []string{"Login fails", "Search fails"} {
			if i := byTitle[title]; i["merged"] != true || i["merged_into"] != nil {
				t.Errorf("%s, merged into one customers do not see: %v", title, i)
			}
		}
		html := string(app.Must(t, 200, "GET", "/status", "", nil).Body)
		if !strings.Contains(html, `continued in <a href="/status#incident-`+byTitle["Shop is slow"]["id"].(string)+`">Shop is slow</a>`) ||
			!strings.Contains(html, "continued in another incident") {
			t.Errorf("the status page does not point merged incidents onwards")
		}
		for _, u := range []string{"/status", "/status.json", "/status.atom"} {
			body := string(app.Must(t, 200, "GET", u, "", nil).Body)
			for _, leak := range []string{"SECRET-target-title", "SECRET-reason", "UNPUBLISHED-target-title", fmt.Sprintf("#%d", secret), "a monitoring test"} {
				if strings.Contains(body, leak) {
					t.Errorf("%s shows %q", u, leak)
				}
			}
		}
	})
}
