package web_test

import (
	"bytes"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func TestIncidentPageForms(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		tok := app.User(t, "ana", auth.RoleResponder)
		app.User(t, "bo", auth.RoleResponder)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Certificates broken", "detection_source": "customer"})
		s := signIn(t, app, "ana")
		ok := func(path string, form url.Values, anchor string) {
			t.Helper()
			resp, body := s.post(path, form)
			if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), "#"+anchor) {
				t.Fatalf("POST %s: %d %s %.300s", path, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
		refused := func(path string, form url.Values, status int, msg string) {
			t.Helper()
			resp, body := s.post(path, form)
			if resp.StatusCode != status || !strings.Contains(body, msg) {
				t.Fatalf("POST %s: %d, want %d with %q: %.500s", path, resp.StatusCode, status, msg, body)
			}
		}
		ok("/incidents/1/updates", url.Values{"body": {"customers report TLS errors"}, "visibility": {"public"}}, "update-1")
		ok("/incidents/1/updates", url.Values{"body": {"CA ticket INTERNAL-NOTE"}}, "update-2")
		ok("/incidents/1/checklist", url.Values{"text": {"restore the old certificate"}, "owner": {"bo"}}, "checklist")
		ok("/incidents/1/links", url.Values{"kind": {"merge_request"}, "url": {"https://gitlab.example/mr/7"}, "title": {"MR 7"}}, "links")
		ok("/incidents/1/edit", url.Values{"title": {"Certificates broken on somesite"}, "severity": {"critical"}, "services": {"somesite, cdn"},
			"labels": {"team=ops\nenv=prod"}, "detection_source": {"customer"}, "visibility": {"public"}, "owner_active": {"bo"}}, "details")

		// The rules show on the page, with what was typed kept.
		refused("/incidents/1/transition", url.Values{"form": {"transition"}, "to": {"mitigated"}, "note": {"restored it"}}, 409, "open checklist item")
		if _, body := s.post("/incidents/1/transition", url.Values{"form": {"transition"}, "to": {"mitigated"}, "note": {"restored it"}}); !strings.Contains(body, ">restored it</textarea>") {
			t.Fatal("the note typed was lost")
		}
		refused("/incidents/1/transition", url.Values{"to": {"closed"}, "note": {"x"}}, 409, "cannot be skipped")
		refused("/incidents/1/transition", url.Values{"to": {"mitigated"}, "note": {" "}}, 422, "needs a note")
		ok("/incidents/1/transition", url.Values{"to": {"mitigated"}, "note": {"restored the previous certificate"}, "override": {"1"}}, "phases")
		ok("/incidents/1/checklist/1", url.Values{"do": {"tick"}}, "checklist")
		ok("/incidents/1/transition", url.Values{"to": {"resolved"}, "note": {"re-requested from the public CA"}}, "phases")
		refused("/incidents/1/transition", url.Values{"to": {"closed"}, "note": {"automated renewal"}}, 422, "detection_improvement")
		ok("/incidents/1/transition", url.Values{"to": {"closed"}, "note": {"automated renewal"}, "detection_improvement": {"alert on the CA of served certificates"}}, "phases")
		refused("/incidents/1/edit", url.Values{"form": {"edit"}, "title": {"Certificates broken on somesite"}, "severity": {"critical"},
			"detection_source": {"customer"}, "visibility": {"public"}, "detection_improvement": {" "}}, 422, "detection_improvement")
		refused("/incidents/1/transition", url.Values{"to": {"active"}}, 422, "needs a reason")
		ok("/incidents/1/transition", url.Values{"to": {"active"}, "reason": {"old CA came back"}}, "phases")
		ok("/incidents/1/updates/2/visibility", url.Values{"visibility": {"public"}}, "update-2")
		ok("/incidents/1/updates/2/visibility", url.Values{"visibility": {"internal"}}, "update-2")
		ok("/incidents/1/links/1/remove", url.Values{}, "links")
		ok("/incidents/1/checklist/1", url.Values{"do": {"remove"}}, "checklist")
		refused("/incidents/1/links", url.Values{"form": {"link"}, "url": {"javascript:alert(1)"}}, 422, "http, https or mailto")
		refused("/incidents/1/edit", url.Values{"form": {"edit"}, "title": {"x"}, "labels": {"no equals sign"}, "severity": {"major"}, "detection_source": {"team"}, "visibility": {"public"}}, 422, "name=value")

		// Missing CSRF token: refused, nothing changes.
		if resp, _ := s.post("/incidents/1/updates", url.Values{"body": {"sneaky"}, "csrf": {""}}); resp.StatusCode != 403 {
			t.Fatalf("post without CSRF token: %d", resp.StatusCode)
		}
		_, page := s.get("/incidents/1")
		for _, want := range []string{"Certificates broken on somesite", "customers report TLS errors", "INTERNAL-NOTE", "Internal",
			"Restored the previous certificate", "owner bo", "reopened from closed: old CA came back", "team=ops"} {
			if !strings.Contains(strings.ToLower(page), strings.ToLower(want)) {
				t.Errorf("team page lacks %q", want)
			}
		}
		if strings.Contains(page, "sneaky") {
			t.Fatal("a request without CSRF token changed the incident")
		}

		// A screenshot through the picker form.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("visibility", "public")
		fw, _ := mw.CreateFormFile("file", "graph.png")
		png.Encode(fw, image.NewGray(image.Rect(0, 0, 8, 8)))
		mw.Close()
		req, _ := http.NewRequest("POST", app.URL+"/incidents/1/attachments?csrf="+s.csrf, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if resp, body := s.do(req); resp.StatusCode != 303 {
			t.Fatalf("upload: %d %.300s", resp.StatusCode, body)
		}

		// Viewers: public content only, no forms.
		anon := signIn(t, app, "")
		resp, view := anon.get("/incidents/1")
		if resp.StatusCode != 200 || strings.Contains(view, "INTERNAL-NOTE") || strings.Contains(view, `name="csrf"`) || !strings.Contains(view, "graph.png") {
			t.Fatalf("viewer page: %d internal=%v forms=%v", resp.StatusCode, strings.Contains(view, "INTERNAL-NOTE"), strings.Contains(view, `name="csrf"`))
		}
		if resp, _ := anon.post("/incidents/1/updates", url.Values{"body": {"x"}}); resp.StatusCode != 401 {
			t.Fatalf("anonymous post: %d", resp.StatusCode)
		}
		for _, p := range []string{"/incidents/999", "/incidents/abc", "/incidents/-1"} {
			if resp, _ := anon.get(p); resp.StatusCode != 404 {
				t.Errorf("GET %s: %d", p, resp.StatusCode)
			}
		}
	})
}

func TestConfidentialIncidentPageIs404ForViewers(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	tok := app.User(t, "ana", auth.RoleResponder)
	app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "SECRET-TITLE", "visibility": "confidential"})
	resp, body := signIn(t, app, "").get("/incidents/1")
	if resp.StatusCode != 404 || strings.Contains(body, "SECRET-TITLE") {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
	if resp, body := signIn(t, app, "ana").get("/incidents/1"); resp.StatusCode != 200 || !strings.Contains(body, "SECRET-TITLE") {
		t.Fatalf("team: %d", resp.StatusCode)
	}
}
