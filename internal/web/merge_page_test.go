package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// The incident page and the board card menu merge and cancel; the page
// then says so, offers no phase moves, and the log marks and filters them.
func TestMergeAndCancelPages(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		for _, title := range []string{"Checkout down", "Checkout down (dup)", "Load test alarm", "Resolved one"} {
			app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": title})
		}
		app.Must(t, 200, "POST", "/api/v1/incidents/4/transitions", tok, map[string]any{"to": "mitigated", "note": "x"})
		app.Must(t, 200, "POST", "/api/v1/incidents/4/transitions", tok, map[string]any{"to": "resolved", "note": "y"})
		s := signIn(t, app, "ana")

		_, board := s.get("/")
		for _, form := range []string{`action="/incidents/2/merge"`, `action="/incidents/3/cancel"`} {
			if !strings.Contains(board, form) {
				t.Errorf("the board's card menu lacks %s", form)
			}
		}
		if strings.Contains(board, `action="/incidents/4/cancel"`) {
			t.Error("the board offers to cancel a resolved incident")
		}
		_, page := s.get("/incidents/4")
		if strings.Contains(page, `id="cancel"`) || !strings.Contains(page, `id="merge"`) {
			t.Error("a resolved incident's page: cancel offered or merge missing")
		}

		_, viewer := signIn(t, app, "").get("/incidents/1")
		if strings.Contains(viewer, `id="merge"`) || strings.Contains(viewer, `id="cancel"`) {
			t.Error("a viewer is offered merge or cancel")
		}
		resp, body := s.post("/incidents/2/merge", url.Values{"form": {"merge"}, "into": {"2"}, "reason": {"same"}})
		if resp.StatusCode != 409 || !strings.Contains(body, "cannot be merged into itself") || !strings.Contains(body, ">same</textarea>") {
			t.Errorf("merge into itself from the page: %d %.300s", resp.StatusCode, body)
		}
		resp, _ = s.post("/incidents/2/merge", url.Values{"into": {"#1"}, "reason": {"the same outage"}})
		if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), "/incidents/2#end") {
			t.Fatalf("merge from the page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = s.post("/incidents/3/cancel", url.Values{"reason": {"the load test"}})
		if resp.StatusCode != 303 {
			t.Fatalf("cancel from the board: %d", resp.StatusCode)
		}
		resp, body = s.post("/incidents/4/cancel", url.Values{"form": {"cancel"}, "reason": {"x"}})
		if resp.StatusCode != 409 || !strings.Contains(body, "only an active or mitigated incident can be cancelled") {
			t.Errorf("cancel a resolved incident: %d", resp.StatusCode)
		}

		_, page = s.get("/incidents/2")
		if !strings.Contains(page, `Merged into <a href="/incidents/1">#1</a>`) || strings.Contains(page, `id="transition"`) || strings.Contains(page, `id="reopen"`) {
			t.Errorf("the merged incident's page:\n%s", section(page))
		}
		_, page = s.get("/incidents/3")
		if !strings.Contains(page, "Cancelled") || !strings.Contains(page, "the load test") || !strings.Contains(page, `id="reopen"`) || strings.Contains(page, `id="transition"`) {
			t.Errorf("the cancelled incident's page:\n%s", section(page))
		}
		_, page = s.get("/incidents/1")
		if !strings.Contains(page, "merged #2 into this incident") {
			t.Error("the target's timeline does not record the merge")
		}
		_, board = s.get("/")
		if strings.Contains(board, `href="/incidents/2"`) || strings.Contains(board, `href="/incidents/3"`) {
			t.Error("merged or cancelled incidents are still on the board")
		}
		_, log := s.get("/incidents?state=ended")
		if !strings.Contains(log, `class="badge end-merged"`) || !strings.Contains(log, `class="badge end-cancelled"`) || strings.Contains(log, "Checkout down</a>") {
			t.Errorf("the log's ended filter:\n%s", log)
		}
		md := string(app.Must(t, 200, "GET", "/api/v1/log?format=md&state=ended", tok, nil).Body)
		if !strings.Contains(md, "- **Merged** into [#1]") || !strings.Contains(md, "- **Cancelled** ") || !strings.Contains(md, ", state ended") {
			t.Errorf("the Markdown log:\n%s", md)
		}
		csv := string(app.Must(t, 200, "GET", "/api/v1/log?format=csv&state=merged", tok, nil).Body)
		if !strings.Contains(csv, ",end_state,ended_at,end_reason,merged_into\n") || !strings.Contains(csv, ",merged,") || !strings.HasSuffix(strings.TrimSpace(csv), ",the same outage,1") {
			t.Errorf("the CSV log:\n%s", csv)
		}
		app.Clock.Advance(time.Minute) // the agenda's period ends now, excluded
		_, review := s.get("/review")
		if !regexp.MustCompile(`Merged and cancelled \(2\)`).MatchString(review) {
			t.Error("the review does not list the merged and cancelled incidents")
		}
	})
}

func section(page string) string {
	if i := strings.Index(page, `<header class="inc-head">`); i >= 0 {
		page = page[i:]
	}
	if len(page) > 1500 {
		page = page[:1500]
	}
	return page
}
