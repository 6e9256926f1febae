package e2e

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// firstChange opens the live stream as token ("" for a viewer), runs act
// once the stream listens, and returns the first change event it gets.
func firstChange(t *testing.T, app *testenv.App, token string, act func()) string {
	t.Helper()
	// A guard so a stream that never ends fails the test instead of
	// hanging it; nothing is measured.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", app.URL+"/events", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got strings.Builder
	buf := make([]byte, 4096)
	listening := false
	for {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if !listening && strings.Contains(got.String(), "retry:") {
			listening = true
			act()
		}
		if i := strings.Index(got.String(), "event: change\ndata: "); i >= 0 {
			rest := got.String()[i+len("event: change\ndata: "):]
			if j := strings.Index(rest, "\n"); j >= 0 {
				return rest[:j]
			}
		}
		if err != nil {
			t.Fatalf("stream ended: %v after %q", err, got.String())
		}
	}
}

// The live stream tells a viewer nothing about internal events on a
// public incident (an internal update, link, checklist item or file): the
// first event a viewer hears of is the first public one.
func TestViewerStreamHearsNothingInternal(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "public"})
		upload := func(fields ...string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for i := 0; i+1 < len(fields); i += 2 {
				mw.WriteField(fields[i], fields[i+1])
			}
			fw, _ := mw.CreateFormFile("file", "notes.txt")
			fw.Write([]byte("internal notes"))
			mw.Close()
			if r := app.Request(t, "POST", "/api/v1/incidents/1/attachments", tok, buf.String(), "Content-Type", mw.FormDataContentType()); r.Status != 201 {
				t.Fatalf("upload: %d %s", r.Status, r.Body)
			}
		}
		internal := func() {
			u := app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", tok, map[string]any{"body": "internal"})
			upload("update", fmt.Sprint(u.JSON["id"]))
			upload()
			l := app.Must(t, 201, "POST", "/api/v1/incidents/1/links", tok, map[string]any{"url": "https://grafana.example/d/1"})
			app.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/incidents/1/links/%v", l.JSON["id"]), tok, nil)
			it := app.Must(t, 201, "POST", "/api/v1/incidents/1/checklist", tok, map[string]any{"text": "check the backups"})
			app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/1/checklist/%v", it.JSON["id"]), tok, map[string]any{"done": true})
		}
		got := firstChange(t, app, "", func() {
			internal()
			app.Must(t, 201, "POST", "/api/v1/incidents/1/links", tok, map[string]any{"url": "https://status.example", "visibility": "public"})
		})
		if got != `{"incident":1,"kind":"link_added"}` {
			t.Fatalf("a viewer's first event: %s", got)
		}
		// The team hears of the first internal one.
		if got := firstChange(t, app, tok, internal); got != `{"incident":1,"kind":"update_posted"}` {
			t.Fatalf("the team's first event: %s", got)
		}
	})
}

// A viewer's timeline tells public facts only: not the title the incident
// was opened with, nor what a field was before it changed, nor anything
// of the time it was confidential; the team's timeline keeps all of it.
func TestViewerTimelineShowsOnlyPublicFacts(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "SECRET-OLD-TITLE", "visibility": "confidential"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", tok, map[string]any{"summary": "SECRET-DRAFT"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", tok, map[string]any{"visibility": "public"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", tok, map[string]any{"title": "Checkout errors", "summary": "Card payments fail."})
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", tok, map[string]any{"body": "Rolling back.", "visibility": "public"})

		viewer := app.Must(t, 200, "GET", "/api/v1/incidents/1/timeline", "", nil)
		var kinds []string
		for _, e := range viewer.JSON["events"].([]any) {
			kinds = append(kinds, e.(map[string]any)["kind"].(string))
		}
		if strings.Join(kinds, ",") != "changed,update_posted" || strings.Contains(string(viewer.Body), "SECRET") {
			t.Fatalf("viewer's timeline %v: %s", kinds, viewer.Body)
		}
		if page := string(app.Must(t, 200, "GET", "/incidents/1", "", nil).Body); strings.Contains(page, "SECRET") || !strings.Contains(page, "changed summary, title") {
			t.Fatal("the viewer's incident page shows an earlier value, or not the change")
		}
		if team := app.Must(t, 200, "GET", "/api/v1/incidents/1/timeline", tok, nil); len(team.JSON["events"].([]any)) != 5 ||
			!strings.Contains(string(team.Body), "SECRET-OLD-TITLE") {
			t.Fatalf("the team's timeline lost history: %s", team.Body)
		}
	})
}

// A viewer's board counts public checklist items only: an incident with
// internal ones looks like one without.
func TestViewerBoardCountsPublicItemsOnly(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "with internal items"})
		app.Must(t, 201, "POST", "/api/v1/incidents/1/checklist", tok, map[string]any{"text": "public item", "visibility": "public"})
		for range 2 {
			app.Must(t, 201, "POST", "/api/v1/incidents/1/checklist", tok, map[string]any{"text": "internal item"})
		}
		card := func(token string) string {
			t.Helper()
			page := string(app.Must(t, 200, "GET", "/", token, nil).Body)
			i := strings.Index(page, `data-number="1"`)
			if i < 0 {
				t.Fatal("no card for #1")
			}
			return page[i : i+strings.Index(page[i:], "</li>")]
		}
		if c := card(""); !strings.Contains(c, `data-open-items="1"`) || !strings.Contains(c, "0 of 1") {
			t.Errorf("a viewer's card counts internal items: %s", c)
		}
		if c := card(tok); !strings.Contains(c, `data-open-items="3"`) || !strings.Contains(c, "0 of 3") {
			t.Errorf("the team's card: %s", c)
		}
	})
}
