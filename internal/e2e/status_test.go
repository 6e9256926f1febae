package e2e

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/server"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// The status page's customers: e-mail subscribers with double opt-in, and
// people who report a problem. Black-box: forms posted as a browser
// would, messages taken from a real SMTP server.

// eachStatusApp runs fn on each database with e-mail set up and the base
// URL customers' links are made with.
func eachStatusApp(t *testing.T, fn func(t *testing.T, w *notifyWorld)) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			mail := testenv.NewMailSink(t)
			app := testenv.StartApp(t, d, func(o *service.Options) { o.Email, o.BaseURL = true, "https://quench.example" })
			fn(t, &notifyWorld{app: app, mail: mail, outbox: app.Outbox(mail.Config),
				admin: app.User(t, "root", auth.RoleAdmin, auth.Scopes...), ana: app.User(t, "ana", auth.RoleResponder)})
		})
	}
}

// form posts a form without a session, as a customer's browser does.
func form(t *testing.T, app *testenv.App, path string, v url.Values, headers ...string) *testenv.Response {
	t.Helper()
	return app.Request(t, "POST", path, "", v.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

var tokenLink = regexp.MustCompile(`https?://[^\s"<>]+/status/(confirm|unsubscribe)\?token=([0-9]+\.[A-Za-z0-9_-]+)`)

// links returns the confirm and unsubscribe tokens a message carries.
func links(t *testing.T, m testenv.Mail) map[string]string {
	t.Helper()
	text, _ := parts(t, m)
	out := map[string]string{}
	for _, l := range tokenLink.FindAllStringSubmatch(text, -1) {
		out[l[1]] = l[2]
	}
	return out
}

// subscribers lists the subscribers' addresses and whether they confirmed.
func subscribers(t *testing.T, w *notifyWorld) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range w.app.Must(t, 200, "GET", "/api/v1/subscribers", w.admin, nil).JSON["subscribers"].([]any) {
		s := s.(map[string]any)
		out[s["email"].(string)] = s["confirmed"].(bool)
	}
	return out
}

// Double opt-in: an address gets nothing but the confirmation until its
// owner follows the link in it; every later message names only what the
// status page shows and carries a signed one-click unsubscribe link, which
// works without signing in and cannot be forged for another address.
func TestStatusSubscriptionDoubleOptIn(t *testing.T) {
	eachStatusApp(t, func(t *testing.T, w *notifyWorld) {
		app := w.app
		app.Must(t, 201, "POST", "/api/v1/components", w.admin, map[string]any{"name": "Checkout", "services": []string{"checkout"}})
		app.Must(t, 201, "POST", "/api/v1/components", w.admin, map[string]any{"name": "Search", "services": []string{"search"}})

		if r := form(t, app, "/status/subscribe", url.Values{"email": {"Carla@Example.com"}}); r.Status != 303 {
			t.Fatalf("subscribe: %d %s", r.Status, r.Body)
		}
		w.drain(t)
		got := w.mail.Take()
		if len(got) != 1 || got[0].To[0] != "carla@example.com" || !strings.Contains(got[0].Msg.Header.Get("Subject"), "Confirm your subscription") {
			t.Fatalf("want one confirmation, got %d messages", len(got))
		}
		confirm := links(t, got[0])["confirm"]
		if confirm == "" {
			t.Fatal("the confirmation has no confirm link")
		}

		// Until confirmed, nothing else: a published incident, public
		// updates, its resolution.
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "TEAM checkout-db failover", "services": []string{"checkout"}})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", w.ana, map[string]any{"on_status_page": true, "status_title": "Checkout is slow"})
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "Looking into it.", "visibility": "public"})
		// Asking again within the hour sends no second confirmation.
		form(t, app, "/status/subscribe", url.Values{"email": {"carla@example.com"}})
		w.drain(t)
		if got := w.mail.Take(); len(got) != 0 {
			t.Fatalf("an unconfirmed address got %d messages, the first %q", len(got), got[0].Msg.Header.Get("Subject"))
		}
		if subscribers(t, w)["carla@example.com"] {
			t.Fatal("confirmed without the link")
		}

		// The link opens a page with a button; only the button confirms.
		page := app.Must(t, 200, "GET", "/status/confirm?token="+url.QueryEscape(confirm), "", nil)
		if !strings.Contains(string(page.Body), "Confirm my subscription") || subscribers(t, w)["carla@example.com"] {
			t.Fatal("GET of the confirmation link changed something or showed no button")
		}
		if r := form(t, app, "/status/confirm", url.Values{"token": {confirm[:len(confirm)-2] + "xx"}}); r.Status != 404 {
			t.Fatalf("a forged confirmation: %d", r.Status)
		}
		if r := form(t, app, "/status/confirm", url.Values{"token": {confirm}}); r.Status != 200 || !subscribers(t, w)["carla@example.com"] {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}

		// Now public news comes, internal news never.
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "INTERNAL: failover to replica b", "visibility": "internal"})
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "A fix is rolling out.", "visibility": "public"})
		w.drain(t)
		got = w.mail.Take()
		if len(got) != 1 {
			t.Fatalf("want the public update, got %d messages", len(got))
		}
		m := got[0]
		text, html := parts(t, m)
		if !strings.Contains(text, "A fix is rolling out.") || !strings.Contains(m.Msg.Header.Get("Subject"), "Checkout is slow") {
			t.Fatalf("update message: %q\n%s", m.Msg.Header.Get("Subject"), text)
		}
		for _, leak := range []string{"TEAM", "INTERNAL", "checkout-db", "/incidents/1", "ana"} {
			if strings.Contains(text+html+fmt.Sprint(m.Msg.Header), leak) {
				t.Errorf("a subscriber's message contains %q", leak)
			}
		}
		if strings.Contains(text, "#1") {
			t.Error("a subscriber's message names the incident's number")
		}
		lu := m.Msg.Header.Get("List-Unsubscribe")
		unsub := links(t, m)["unsubscribe"]
		if unsub == "" || !strings.Contains(lu, "token="+unsub) || m.Msg.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Fatalf("List-Unsubscribe %q, -Post %q, body link %q", lu, m.Msg.Header.Get("List-Unsubscribe-Post"), unsub)
		}

		// A second subscriber, for Search only: Checkout news is not for
		// them. Carla's link does not unsubscribe them, however edited.
		form(t, app, "/status/subscribe", url.Values{"email": {"dan@example.com"}, "component": {"2"}})
		w.drain(t)
		got = w.mail.Take()
		if len(got) != 1 {
			t.Fatalf("dan's confirmation: %d messages", len(got))
		}
		form(t, app, "/status/confirm", url.Values{"token": {links(t, got[0])["confirm"]}})
		danID := strings.SplitN(links(t, got[0])["unsubscribe"], ".", 2)[0]
		_, carlaMAC, _ := strings.Cut(unsub, ".")
		for _, forged := range []string{danID + "." + carlaMAC, danID + ".", danID, "0." + carlaMAC, danID + "." + strings.Repeat("A", len(carlaMAC))} {
			if r := form(t, app, "/status/unsubscribe", url.Values{"token": {forged}}); r.Status != 404 {
				t.Errorf("forged unsubscribe %q: %d", forged, r.Status)
			}
		}
		if !subscribers(t, w)["dan@example.com"] {
			t.Fatal("a forged link ended dan's subscription")
		}
		app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": "mitigated", "note": "failed over"})
		w.drain(t)
		got = w.mail.Take()
		if len(got) != 1 || got[0].To[0] != "carla@example.com" || !strings.Contains(got[0].Msg.Header.Get("Subject"), "Checkout is slow") {
			t.Fatalf("mitigation: %d messages", len(got))
		}

		// One click, as a mail client does it (RFC 8058): no session, no
		// form token, the link's own URL.
		u, _ := url.Parse(lu[1 : len(lu)-1])
		if r := app.Request(t, "POST", u.RequestURI(), "", "List-Unsubscribe=One-Click", "Content-Type", "application/x-www-form-urlencoded"); r.Status != 200 {
			t.Fatalf("one-click unsubscribe: %d %s", r.Status, r.Body)
		}
		if _, ok := subscribers(t, w)["carla@example.com"]; ok {
			t.Fatal("still subscribed")
		}
		// Again is fine; and nothing more comes.
		if r := form(t, app, "/status/unsubscribe", url.Values{"token": {unsub}}); r.Status != 200 {
			t.Fatalf("unsubscribe twice: %d", r.Status)
		}
		app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": "resolved", "note": "fixed"})
		w.drain(t)
		if got := w.mail.Take(); len(got) != 0 {
			t.Fatalf("after unsubscribing: %d messages", len(got))
		}
	})
}

// A message waiting in the outbox for a subscriber is not sent once what
// it says is no longer on the status page.
func TestStatusMessageWithdrawnBeforeSending(t *testing.T) {
	eachStatusApp(t, func(t *testing.T, w *notifyWorld) {
		app := w.app
		form(t, app, "/status/subscribe", url.Values{"email": {"erin@example.com"}})
		w.drain(t)
		form(t, app, "/status/confirm", url.Values{"token": {links(t, w.mail.Take()[0])["confirm"]}})
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "x", "services": []string{"api"}})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/1", w.ana, map[string]any{"on_status_page": true, "status_title": "API errors"})
		up := app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "WITHDRAWN text", "visibility": "public"})
		app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/1/updates/%v", up.JSON["id"]), w.ana, map[string]any{"visibility": "internal"})
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "y"})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/2", w.ana, map[string]any{"on_status_page": true})
		app.Must(t, 200, "PATCH", "/api/v1/incidents/2", w.ana, map[string]any{"visibility": "confidential"})
		w.drain(t)
		got := w.mail.Take()
		if len(got) != 1 || !strings.Contains(got[0].Msg.Header.Get("Subject"), "API errors") {
			t.Fatalf("want only the publication of #1, got %d messages", len(got))
		}
		if text, _ := parts(t, got[0]); strings.Contains(text, "WITHDRAWN") {
			t.Fatal("a withdrawn update went out")
		}
	})
}

// reporting is an app whose clients are named by X-Forwarded-For, so a
// test can report from many addresses.
func reporting(t *testing.T, w *notifyWorld) *testenv.App {
	return w.app.WithServer(t, func(o *server.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
}

func report(t *testing.T, app *testenv.App, from string, v url.Values) *testenv.Response {
	t.Helper()
	return form(t, app, "/status/report", v, "X-Forwarded-For", from)
}

func inbox(t *testing.T, w *notifyWorld) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, a := range w.app.Must(t, 200, "GET", "/api/v1/alerts?limit=500", w.admin, nil).JSON["alerts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

// The report form: a report lands in the inbox as an alert of the source
// "report"; beyond 5 an hour from one address or 100 an hour in all it is
// refused with 429 and Retry-After, and nothing is stored; a filled
// honeypot gets the answer a person gets, and nothing is stored; text is
// capped and never HTML.
func TestReportForm(t *testing.T) {
	eachStatusApp(t, func(t *testing.T, w *notifyWorld) {
		app := reporting(t, w)
		c := app.Must(t, 201, "POST", "/api/v1/components", w.admin, map[string]any{"name": "Checkout", "services": []string{"checkout"}})
		hostile := `<script>window.__xss=1</script><img src=x onerror=alert(1)> [x](javascript:alert(1)) {{7*7}}`
		long := hostile + strings.Repeat("é", 3000)
		r := report(t, app, "203.0.113.1", url.Values{"text": {long}, "component": {fmt.Sprint(c.JSON["id"])}, "contact": {"Pat@example.com"}})
		if r.Status != 303 || r.Header.Get("Location") != "/status/report?sent=1" {
			t.Fatalf("report: %d %s", r.Status, r.Body)
		}
		alerts := inbox(t, w)
		if len(alerts) != 1 {
			t.Fatalf("inbox: %d alerts", len(alerts))
		}
		a := alerts[0]
		labels, notes := a["labels"].(map[string]any), a["annotations"].(map[string]any)
		desc := notes["description"].(string)
		if a["integration"] != "report" || labels["source"] != "report" || labels["component"] != "Checkout" || a["status"] != "firing" ||
			notes["contact"] != "pat@example.com" || !strings.HasPrefix(a["title"].(string), "Customer report: <script>") || a["incident"] != nil {
			t.Fatalf("the report's alert: %v", a)
		}
		if len(desc) > 2000 || !strings.HasPrefix(desc, hostile) {
			t.Fatalf("text not capped to 2000 bytes: %d", len(desc))
		}
		// Shown to the team as text, never as markup.
		page := string(app.Must(t, 200, "GET", "/alerts", w.admin, nil).Body)
		if strings.Contains(page, "<script>window") || strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;script&gt;window") {
			t.Fatal("the inbox renders the report's HTML")
		}

		// The honeypot: the same answer, nothing kept.
		if r := report(t, app, "203.0.113.2", url.Values{"text": {"buy now"}, "website": {"http://spam.example"}}); r.Status != 303 ||
			r.Header.Get("Location") != "/status/report?sent=1" {
			t.Fatalf("honeypot: %d", r.Status)
		}
		// Five an hour from one address.
		for i := range 4 {
			if r := report(t, app, "203.0.113.1", url.Values{"text": {fmt.Sprintf("again %d", i)}}); r.Status != 303 {
				t.Fatalf("report %d: %d", i+2, r.Status)
			}
		}
		app.Clock.Advance(10 * time.Minute)
		r = report(t, app, "203.0.113.1", url.Values{"text": {"sixth"}})
		if r.Status != 429 || r.Header.Get("Retry-After") != "3000" || !strings.Contains(string(r.Body), "sixth") {
			t.Fatalf("sixth report: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		if n := len(inbox(t, w)); n != 5 {
			t.Fatalf("inbox after the limit: %d alerts, want 5", n)
		}
		// A hundred an hour in all, whoever sends them.
		for i := range 95 {
			if r := report(t, app, fmt.Sprintf("198.51.100.%d", i+1), url.Values{"text": {"down"}}); r.Status != 303 {
				t.Fatalf("report from address %d: %d", i+1, r.Status)
			}
		}
		if r := report(t, app, "192.0.2.200", url.Values{"text": {"one too many"}}); r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("the 101st report of the hour: %d", r.Status)
		}
		if n := len(inbox(t, w)); n != 100 {
			t.Fatalf("inbox: %d alerts, want 100", n)
		}
		// An hour after the first, the first address may report again.
		app.Clock.Advance(50*time.Minute + time.Second)
		if r := report(t, app, "203.0.113.1", url.Values{"text": {"still down"}}); r.Status != 303 {
			t.Fatalf("after an hour: %d", r.Status)
		}
		// Bad input is refused and kept on the form.
		if r := report(t, app, "192.0.2.7", url.Values{"text": {"  "}}); r.Status != 422 {
			t.Fatalf("empty report: %d", r.Status)
		}
		if r := report(t, app, "192.0.2.7", url.Values{"text": {"x"}, "contact": {"not an address"}}); r.Status != 422 {
			t.Fatalf("bad contact: %d", r.Status)
		}
	})
}

// Declared from a report, an incident's detection source is customer;
// the reporter who left an address gets one message when it is resolved,
// and only one, however often it is resolved.
func TestReportDeclaredAndResolved(t *testing.T) {
	eachStatusApp(t, func(t *testing.T, w *notifyWorld) {
		app := w.app
		form(t, app, "/status/report", url.Values{"text": {"cannot pay"}, "contact": {"pat@example.com"}})
		form(t, app, "/status/report", url.Values{"text": {"paying fails"}})
		inc := app.Must(t, 201, "POST", "/api/v1/alerts/1/declare", w.ana, map[string]any{"title": "Payments down"})
		if inc.JSON["detection_source"] != "customer" {
			t.Fatalf("declared from a report: detection source %v", inc.JSON["detection_source"])
		}
		// A report attached to an incident opened before it leaves the
		// source alone: monitoring was first.
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "later", "detection_source": "alert"})
		app.Clock.Advance(time.Minute)
		form(t, app, "/status/report", url.Values{"text": {"slow"}})
		if r := app.Must(t, 200, "POST", "/api/v1/incidents/2/alerts", w.ana, map[string]any{"alerts": []int{3}}); r.JSON["detection_source"] != "alert" {
			t.Fatalf("a later report changed the source: %v", r.JSON["detection_source"])
		}
		// Attached to an incident opened after it: customers were first.
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "team found it", "detection_source": "team"})
		if r := app.Must(t, 200, "POST", "/api/v1/incidents/3/alerts", w.ana, map[string]any{"alerts": []int{2}}); r.JSON["detection_source"] != "customer" {
			t.Fatalf("an earlier report: detection source %v", r.JSON["detection_source"])
		}

		for _, to := range []string{"mitigated", "resolved"} {
			app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": to, "note": "done " + to})
		}
		w.drain(t)
		got := w.mail.Take()
		if len(got) != 1 || got[0].To[0] != "pat@example.com" || !strings.Contains(got[0].Msg.Header.Get("Subject"), "The problem you reported is resolved") {
			t.Fatalf("want one message to the reporter, got %d", len(got))
		}
		if text, _ := parts(t, got[0]); strings.Contains(text, "Payments down") || strings.Contains(text, "done") {
			t.Fatalf("the reporter's message names the team's words: %s", text)
		}
		app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": "active", "reason": "back"})
		for _, to := range []string{"mitigated", "resolved"} {
			app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": to, "note": "again"})
		}
		w.drain(t)
		if got := w.mail.Take(); len(got) != 0 {
			t.Fatalf("resolved again: %d more messages to the reporter", len(got))
		}
	})
}

// Subscribers hear that a published incident that was cancelled or merged
// is resolved, and nothing of the incident a merged one went into.
func TestStatusSubscribersOfMergedAndCancelled(t *testing.T) {
	eachStatusApp(t, func(t *testing.T, w *notifyWorld) {
		app := w.app
		form(t, app, "/status/subscribe", url.Values{"email": {"carla@example.com"}})
		w.drain(t)
		confirm := links(t, w.mail.Take()[0])["confirm"]
		if r := form(t, app, "/status/confirm", url.Values{"token": {confirm}}); r.Status != 200 {
			t.Fatalf("confirm: %d", r.Status)
		}
		for i, title := range []string{"Checkout is slow", "Search fails"} {
			app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": fmt.Sprint("TEAM-title-", i)})
			app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", i+1), w.ana, map[string]any{"on_status_page": true, "status_title": title})
		}
		app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "SECRET-target", "visibility": "confidential"})
		w.drain(t)
		w.mail.Take()
		app.Must(t, 200, "POST", "/api/v1/incidents/1/cancel", w.ana, map[string]any{"reason": "TEAM-reason: a load test"})
		app.Must(t, 200, "POST", "/api/v1/incidents/2/merge", w.ana, map[string]any{"into": 3, "reason": "TEAM-reason: the SECRET-target"})
		w.drain(t)
		var subjects []string
		for _, m := range w.mail.Take() {
			text, html := parts(t, m)
			subjects = append(subjects, m.Msg.Header.Get("Subject"))
			if !strings.Contains(text, "Resolved") {
				t.Errorf("%q does not say resolved:\n%s", m.Msg.Header.Get("Subject"), text)
			}
			for _, leak := range []string{"SECRET", "TEAM-", "#3"} {
				if strings.Contains(text+html+m.Msg.Header.Get("Subject"), leak) {
					t.Errorf("a subscriber's message shows %q", leak)
				}
			}
		}
		want := []string{"Checkout is slow", "Search fails"}
		slices.Sort(subjects)
		if len(subjects) != 2 || !strings.Contains(subjects[0], want[0]) || !strings.Contains(subjects[1], want[1]) {
			t.Errorf("subscriber got %q, want %q", subjects, want)
		}
	})
}
