package web_test

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/testenv"
)

// Triage undone from the inbox page, without JavaScript, on both
// databases: after an acknowledgement or a dismissal the page offers an
// undo form that posts the same alerts back; the bulk buttons do the
// same; undoing what is not acknowledged (dismissed) says why, with a
// 409, and changes nothing (who may undo: the access matrix).
func TestInboxUndo(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		app.User(t, "ana", auth.RoleResponder)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string), `{"alerts":[
			{"title":"queue growing","severity":"warning"},{"title":"consumer lag","severity":"warning"}]}`)
		s := signIn(t, app, "ana")
		back := "/alerts?unattached=1"
		resp, _ := s.post("/alerts/ack", url.Values{"alert": {"1", "2"}, "back": {back}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 303 || !strings.Contains(loc, "undo=unack") || !strings.Contains(loc, "unattached=1") {
			t.Fatalf("ack: %d %s", resp.StatusCode, loc)
		}
		_, body := s.get(loc)
		undo := regexp.MustCompile(`(?s)<form method="post" action="/alerts/unack" class="flash notice undo" id="undo".*?</form>`).FindString(body)
		if !strings.Contains(undo, "Acknowledged 2 alerts.") || !strings.Contains(undo, `name="alert" value="1"`) || !strings.Contains(undo, `name="alert" value="2"`) ||
			!strings.Contains(undo, `name="back" value="`+html.EscapeString(back)+`"`) {
			t.Fatalf("undo offer after ack: %q", undo)
		}
		if strings.Count(body, "acknowledged by ana") != 2 {
			t.Fatal("alerts not acknowledged")
		}
		// Undo, as the form posts it.
		resp, _ = s.post("/alerts/unack", url.Values{"alert": {"1", "2"}, "back": {back}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != back {
			t.Fatalf("undo ack: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, body := s.get(back); strings.Contains(body, "acknowledged by") || strings.Contains(body, `id="undo"`) {
			t.Fatal("still acknowledged after the undo, or offered to undo again")
		}
		// Undo twice: refused, says why, changes nothing.
		resp, body = s.post("/alerts/unack", url.Values{"alert": {"1"}, "back": {back}})
		if resp.StatusCode != 409 || !strings.Contains(body, "alert 1 is not acknowledged") {
			t.Fatalf("unack twice: %d", resp.StatusCode)
		}

		resp, _ = s.post("/alerts/dismiss", url.Values{"alert": {"2"}, "reason": {"noise"}, "back": {"/alerts"}})
		loc = resp.Header.Get("Location")
		_, body = s.get(loc)
		if !strings.Contains(body, `action="/alerts/restore"`) || !strings.Contains(body, "Dismissed alert.") || !strings.Contains(body, "1 firing alert waits") {
			t.Fatalf("after dismiss (%s): no undo offer or wrong count", loc)
		}
		// The bulk button: restore.
		resp, _ = s.post("/alerts/restore", url.Values{"alert": {"2"}, "back": {"/alerts"}})
		if resp.StatusCode != 303 {
			t.Fatalf("restore: %d", resp.StatusCode)
		}
		if _, body := s.get("/alerts"); !strings.Contains(body, "2 firing alerts wait") || strings.Contains(body, "dismissed by") ||
			!strings.Contains(body, `formaction="/alerts/restore"`) || !strings.Contains(body, `formaction="/alerts/unack"`) {
			t.Fatal("after restore: count or buttons wrong")
		}
	})
}

// The live stream tells the team how many alerts wait in the inbox when
// alerts arrive, and a viewer's stream never hears of it.
func TestInboxCountOnLiveStream(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		tok := app.User(t, "ana", auth.RoleResponder)
		in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
		hook, itok := "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string)
		team, anon := openStream(t, app, tok), openStream(t, app, "")
		app.Must(t, 200, "POST", hook, itok, map[string]any{"title": "disk filling", "severity": "warning"})
		team.waitFor(t, `event: inbox`+"\n"+`data: {"waiting":1}`)
		app.Must(t, 200, "POST", hook, itok, map[string]any{"alerts": []map[string]any{{"title": "a"}, {"title": "b"}, {"title": "c"}}})
		team.waitFor(t, `data: {"waiting":4}`)
		// A public change after the inbox's: the viewer hears it, and
		// nothing of the inbox before it.
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "public"})
		got := anon.waitFor(t, `"kind":"created"`)
		if strings.Contains(got, "inbox") || strings.Contains(got, "waiting") {
			t.Fatalf("viewer stream heard of the inbox: %q", got)
		}
	})
}

type stream struct {
	lines chan string
	seen  strings.Builder
}

func openStream(t *testing.T, app *testenv.App, token string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", app.URL+"/events", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /events: %v %v", resp, err)
	}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream opening %q", line)
	}
	s := &stream{lines: make(chan string, 1024)}
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			s.lines <- line
		}
	}()
	return s
}

// waitFor reads the stream until what it heard contains want and returns
// it; the deadline only catches hangs.
func (s *stream) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(s.seen.String(), want) {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("stream ended before %q; heard %q", want, s.seen.String())
			}
			s.seen.WriteString(line)
		case <-deadline:
			t.Fatalf("stream did not hear %q within 30s; heard %q", want, s.seen.String())
		}
	}
	return s.seen.String()
}
