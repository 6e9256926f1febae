package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// sink is a loopback receiver that answers every POST with status.
func sink(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// channelForm is the add form as a browser sends it.
func channelForm(kv ...string) url.Values {
	v := url.Values{"form": {"new"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestChannelPages(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "root", auth.RoleAdmin)
		app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "root")
		receiver := sink(t, 200)
		if _, body := s.get("/admin"); !strings.Contains(body, `href="/admin/channels"`) || !strings.Contains(body, `href="/admin/deliveries"`) {
			t.Fatal("the admin overview does not link the notification pages")
		}
		if resp, body := s.get("/admin/channels"); resp.StatusCode != 200 || !strings.Contains(body, "No channels yet") {
			t.Fatalf("empty channel list: %d", resp.StatusCode)
		}
		refused := func(path string, form url.Values, status int, msg string, kept ...string) {
			t.Helper()
			resp, body := s.post(path, form)
			if resp.StatusCode != status || !strings.Contains(body, msg) {
				t.Fatalf("POST %s: %d, want %d with %q: %.600s", path, resp.StatusCode, status, msg, body)
			}
			for _, k := range kept {
				if !strings.Contains(body, k) {
					t.Errorf("POST %s: the page lost %q", path, k)
				}
			}
		}
		typed := []string{"type", "webhook", "name", `ops <b>hook</b>`, "audience", "team", "events", "some", "event", "incident.opened",
			"event", "incident.update.internal", "severity", "critical", "services", "api, db", "labels", `team="db"`}
		// A private address is refused, with everything typed kept.
		refused("/admin/channels", channelForm(append(typed, "url", "http://10.0.0.1/x")...), 400, "may not receive notifications",
			`value="http://10.0.0.1/x"`, `value="ops &lt;b&gt;hook&lt;/b&gt;"`, `value="team" required checked`,
			`value="some" checked`, `value="incident.opened" checked`, `value="incident.update.internal" checked`,
			`value="critical" aria-describedby="ch-severity-help" checked`, `value="api, db"`, `>team=&#34;db&#34;</textarea>`)
		refused("/admin/channels", channelForm("type", "webhook", "name", "x", "url", "http://169.254.169.254/latest/meta-data"), 422, "audience is required")
		refused("/admin/channels", channelForm("type", "webhook", "name", "x", "audience", "team", "events", "some", "url", receiver.URL), 422, "tick at least one event")
		refused("/admin/channels", channelForm("type", "webhook", "name", "x", "audience", "public", "events", "some",
			"event", "incident.update.internal", "url", receiver.URL), 422, "never receives incident.update.internal")
		refused("/admin/channels", channelForm("type", "email", "name", "x", "audience", "team", "recipients", "ops@example.com"), 422, "e-mail is not set up")
		refused("/admin/channels", channelForm("type", "webhook", "name", "x", "audience", "team", "labels", `team=~"((`, "url", receiver.URL), 422, "label filter")

		// Added: the secret is shown once, the list shows the URL only up
		// to its host.
		resp, body := s.post("/admin/channels", channelForm(append(typed, "url", receiver.URL+"/hooks/T0KEN-IN-PATH")...))
		secret := shownSecret(body)
		if resp.StatusCode != 200 || secret == nil || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("add webhook: %d %.400s", resp.StatusCode, body)
		}
		_, list := s.get("/admin/channels")
		if strings.Contains(html.UnescapeString(list), secret[1]) || strings.Contains(list, "T0KEN-IN-PATH") || strings.Contains(list, "<b>hook") {
			t.Fatal("the channel list shows the secret, the URL's path or raw HTML")
		}
		for _, want := range []string{receiver.URL + "/…", "ops &lt;b&gt;hook&lt;/b&gt;", "<code>incident.opened</code>, <code>incident.update.internal</code>",
			"severity critical · services api, db · labels team=&#34;db&#34;", `<span class="badge internal">team</span>`} {
			if !strings.Contains(list, want) {
				t.Errorf("the channel list lacks %q", want)
			}
		}
		id := regexp.MustCompile(`/admin/channels/(\d+)/test`).FindStringSubmatch(list)[1]
		path := "/admin/channels/" + id
		var chID int64
		fmt.Sscan(id, &chID)
		channel := func() *notify.Channel {
			c, err := app.Svc.Channel(ctx, service.System, chID)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		// Edit: the form shows the settings; an empty URL keeps URL and secret.
		if resp, page := s.get(path); resp.StatusCode != 200 || !strings.Contains(page, `value="incident.opened" checked`) ||
			!strings.Contains(page, "leave empty to keep "+receiver.URL+"/…") || strings.Contains(page, "T0KEN-IN-PATH") || strings.Contains(page, `name="recipients"`) {
			t.Fatalf("edit page: %d", resp.StatusCode)
		}
		edit := func(kv ...string) url.Values {
			v := url.Values{"form": {"edit"}, "do": {"save"}, "name": {"ops hook"}, "audience": {"team"}, "events": {"*"}}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		if resp, _ := s.post(path, edit("severity", "major")); resp.StatusCode != 303 {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		if c := channel(); c.Name != "ops hook" || !slices.Equal(c.Events, []notify.Event{"*"}) || c.Secret != secret[1] ||
			!slices.Equal(c.Filter.Severities, []string{"major"}) || c.URL != receiver.URL+"/hooks/T0KEN-IN-PATH" {
			t.Fatalf("after save: %+v", c)
		}
		refused(path, edit("url", "http://169.254.169.254/"), 400, "may not receive notifications", `value="http://169.254.169.254/"`, `value="ops hook"`)
		// A new URL for a webhook: a new secret, shown once.
		resp, body = s.post(path, edit("url", receiver.URL+"/v2"))
		again := shownSecret(body)
		if resp.StatusCode != 200 || again == nil || again[1] == secret[1] {
			t.Fatalf("new URL: %d, secret %v", resp.StatusCode, again)
		}
		if c := channel(); c.Secret != again[1] || c.URL != receiver.URL+"/v2" {
			t.Fatal("the new URL or secret was not saved")
		}
		// Enable and disable, from the list and from the form.
		if resp, _ := s.post(path, url.Values{"do": {"disable"}}); resp.StatusCode != 303 || !channel().Disabled {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		if _, list := s.get("/admin/channels"); !strings.Contains(list, ">disabled</span>") || !strings.Contains(list, `value="enable"`) {
			t.Fatal("the list does not show the channel disabled")
		}
		if resp, _ := s.post(path, url.Values{"do": {"enable"}}); resp.StatusCode != 303 || channel().Disabled {
			t.Fatalf("enable: %d", resp.StatusCode)
		}
		if resp, _ := s.post(path, edit("disabled", "1")); resp.StatusCode != 303 || !channel().Disabled {
			t.Fatalf("disable from the form: %d", resp.StatusCode)
		}
		if resp, _ := s.post(path, edit()); resp.StatusCode != 303 || channel().Disabled {
			t.Fatalf("enable from the form: %d", resp.StatusCode)
		}

		// Send test: queued, and the deliveries of this channel show it.
		resp, _ = s.post(path+"/test", url.Values{})
		if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, "/admin/deliveries?channel="+id+"&") {
			t.Fatalf("send test: %d %s", resp.StatusCode, loc)
		}
		_, deliveries := s.get(resp.Header.Get("Location"))
		if !strings.Contains(deliveries, "Test message queued") || !strings.Contains(deliveries, "<code>test</code>") ||
			!strings.Contains(deliveries, ">queued</span>") || !strings.Contains(deliveries, `<option value="`+id+`" selected>ops hook</option>`) {
			t.Fatalf("deliveries after the test: %.3000s", deliveries)
		}
		if n := app.Outbox(email.Config{}).Drain(ctx); n != 1 {
			t.Fatalf("the outbox sent %d messages, want the test", n)
		}
		if _, deliveries := s.get("/admin/deliveries?channel=" + id); !strings.Contains(deliveries, "sent <span aria-hidden=\"true\">✔</span>") {
			t.Fatal("the test message is not shown sent")
		}

		// Remove, confirmed.
		refused(path+"/remove", url.Values{}, 422, "tick the box to confirm")
		if resp, _ := s.post(path+"/remove", url.Values{"confirm": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
		if resp, _ := s.get(path); resp.StatusCode != 404 {
			t.Fatalf("removed channel's page: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/admin/channels/999/test", url.Values{}); resp.StatusCode != 404 {
			t.Fatalf("test of no channel: %d", resp.StatusCode)
		}
		if _, audit := s.get("/admin/audit"); !strings.Contains(audit, "channel_created") || !strings.Contains(audit, "channel_tested") ||
			!strings.Contains(audit, "channel_deleted") {
			t.Fatal("the audit log lacks the channel changes")
		}

		// Nobody else gets in; a form without the CSRF token changes nothing.
		if resp, _ := s.post("/admin/channels", channelForm("type", "webhook", "name", "sneaky", "audience", "team", "url", receiver.URL, "csrf", "")); resp.StatusCode != 403 {
			t.Fatalf("no CSRF token: %d", resp.StatusCode)
		}
		if resp, _ := signIn(t, app, "ana").get("/admin/channels"); resp.StatusCode != 403 {
			t.Fatalf("responder: %d", resp.StatusCode)
		}
		if resp, _ := signIn(t, app, "").get("/admin/deliveries"); resp.StatusCode != 303 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
	})
}

// An e-mail channel takes recipients, not a URL, when a mail server is set up.
func TestEmailChannelForm(t *testing.T) {
	app := testenv.StartApp(t, "sqlite", func(o *service.Options) { o.Email = true })
	app.User(t, "root", auth.RoleAdmin)
	s := signIn(t, app, "root")
	if _, page := s.get("/admin/channels"); strings.Contains(page, "needs a mail server") {
		t.Fatal("the form says e-mail is not set up")
	}
	resp, _ := s.post("/admin/channels", channelForm("type", "email", "name", "ops list", "audience", "public",
		"recipients", "ops@example.com\nsre@example.com, ops@example.com", "url", "https://ignored.example/"))
	if resp.StatusCode != 303 {
		t.Fatalf("add e-mail channel: %d", resp.StatusCode)
	}
	list, err := app.Svc.Channels(context.Background(), service.System)
	if err != nil || len(list) != 1 || !slices.Equal(list[0].Recipients, []string{"ops@example.com", "sre@example.com"}) || list[0].URL != "" {
		t.Fatalf("channels: %v %+v", err, list)
	}
	if _, page := s.get(fmt.Sprintf("/admin/channels/%d", list[0].ID)); !strings.Contains(page, "ops@example.com\nsre@example.com</textarea>") || strings.Contains(page, `name="url"`) {
		t.Fatal("the edit form of an e-mail channel")
	}
	if resp, body := s.post(fmt.Sprintf("/admin/channels/%d", list[0].ID), url.Values{"form": {"edit"}, "do": {"save"}, "name": {"ops list"},
		"audience": {"public"}, "recipients": {"not an address"}}); resp.StatusCode != 422 || !strings.Contains(body, ">not an address</textarea>") {
		t.Fatalf("bad recipient: %d", resp.StatusCode)
	}
}

// The incident page shows the team how each notification went; viewers
// never see the section. The deliveries page lists and retries them.
func TestDeliveriesAndIncidentNotifications(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "root", auth.RoleAdmin)
		tok := app.User(t, "ana", auth.RoleResponder)
		add := func(name, audience string, status int) int64 {
			c, _, err := app.Svc.CreateChannel(ctx, service.System, service.ChannelInput{Type: ptr("webhook"), Name: ptr(name),
				URL: ptr(sink(t, status).URL + "/in"), Audience: ptr(audience)})
			if err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		okID := add("ops-ok", "team", 200)
		goneID := add("ops-gone", "team", 404)
		add("ops-down", "team", 503)
		add("status-public", "public", 200)
		app.Must(t, 201, "POST", "/api/v1/incidents", tok, map[string]any{"title": "Queue backlog"})
		ob := app.Outbox(email.Config{})
		ob.Drain(ctx)

		admin := signIn(t, app, "root")
		_, page := signIn(t, app, "ana").get("/incidents/1")
		for _, want := range []string{`id="notifications"`, "<td>ops-ok</td>", `sent <span aria-hidden="true">✔</span> <time datetime="2026-11-24T09:00:00Z" data-short>09:00 UTC</time>`,
			"failed: HTTP 404", "failing, retry 1 at <time datetime=\"2026-11-24T09:00:01Z\" data-short>09:00 UTC</time>", "(HTTP 503)",
			"<td>status-public</td>", "<code>incident.opened</code>"} {
			if !strings.Contains(page, want) {
				t.Errorf("the team's incident page lacks %q", want)
			}
		}
		if strings.Contains(page, "/admin/deliveries?incident=1") {
			t.Error("a responder gets a link to the admin pages")
		}
		if _, page := admin.get("/incidents/1"); !strings.Contains(page, `href="/admin/deliveries?incident=1"`) {
			t.Error("an admin gets no link to the incident's deliveries")
		}
		resp, view := signIn(t, app, "").get("/incidents/1")
		if resp.StatusCode != 200 || strings.Contains(view, `id="notifications"`) || strings.Contains(view, "ops-ok") || strings.Contains(view, "status-public") {
			t.Fatalf("a viewer sees the notifications: %d", resp.StatusCode)
		}
		readOnly := app.Token(t, "ana", auth.ScopeRead)
		if r := app.Request(t, "GET", "/incidents/1", readOnly, nil); !strings.Contains(string(r.Body), `id="notifications"`) {
			t.Error("a read token (the team) does not see the notifications")
		}

		// The deliveries page: filters by state and channel, retries.
		_, all := admin.get("/admin/deliveries")
		if strings.Count(all, `<tr id="delivery-`) != 4 || !strings.Contains(all, `<a href="/admin/deliveries" aria-current="page">all</a>`) {
			t.Fatalf("all deliveries: %.3000s", all)
		}
		_, failed := admin.get("/admin/deliveries?state=failed")
		if strings.Count(failed, `<tr id="delivery-`) != 1 || !strings.Contains(failed, "POST "+"http://127.0.0.1") ||
			!strings.Contains(failed, `aria-current="page">failed</a>`) || !strings.Contains(failed, ">Retry<") {
			t.Fatalf("failed deliveries: %.3000s", failed)
		}
		if _, sent := admin.get("/admin/deliveries?state=sent"); strings.Contains(sent, ">Retry<") || strings.Count(sent, `<tr id="delivery-`) != 2 {
			t.Fatal("sent deliveries have a retry button, or are not two")
		}
		if _, one := admin.get(fmt.Sprintf("/admin/deliveries?channel=%d", okID)); strings.Count(one, `<tr id="delivery-`) != 1 || !strings.Contains(one, "ops-ok") {
			t.Fatal("the channel filter")
		}
		list, err := app.Svc.Deliveries(ctx, service.System, service.DeliveryQuery{ChannelID: goneID})
		if err != nil || len(list) != 1 {
			t.Fatal(err, list)
		}
		resp, _ = admin.post(fmt.Sprintf("/admin/deliveries/%d/retry", list[0].ID), url.Values{"state": {"failed"}, "channel": {fmt.Sprint(goneID)}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, fmt.Sprintf("/admin/deliveries?channel=%d&state=failed&notice=", goneID)) {
			t.Fatalf("retry: %d %s", resp.StatusCode, loc)
		}
		if list, _ = app.Svc.Deliveries(ctx, service.System, service.DeliveryQuery{ChannelID: goneID}); list[0].State != notify.Failing {
			t.Fatalf("after retry: %s", list[0].State)
		}
		ok, _ := app.Svc.Deliveries(ctx, service.System, service.DeliveryQuery{ChannelID: okID})
		if resp, body := admin.post(fmt.Sprintf("/admin/deliveries/%d/retry", ok[0].ID), url.Values{}); resp.StatusCode != 409 || !strings.Contains(body, "never sent twice") {
			t.Fatalf("retry of a sent message: %d", resp.StatusCode)
		}

		// After a day of 503s the message is dead; a message whose
		// channel was disabled meanwhile is suppressed.
		app.Clock.Advance(notify.RetryHorizon + time.Minute)
		app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", tok, map[string]any{"body": "still on it", "visibility": "public"})
		if _, _, err := app.Svc.UpdateChannel(ctx, service.System, okID, service.ChannelInput{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		ob.Drain(ctx)
		_, page = signIn(t, app, "ana").get("/incidents/1")
		for _, want := range []string{"dead: gave up after 24h0m0s: HTTP 503", "suppressed: the channel is disabled"} {
			if !strings.Contains(page, want) {
				t.Errorf("the incident page lacks %q", want)
			}
		}
		if _, dead := admin.get("/admin/deliveries?state=dead"); strings.Count(dead, `<tr id="delivery-`) != 1 || !strings.Contains(dead, ">Retry<") {
			t.Fatal("dead deliveries")
		}
		for _, bad := range []string{"/admin/deliveries?state=bogus", "/admin/deliveries?channel=x", "/admin/deliveries?before=-1"} {
			if resp, _ := admin.get(bad); resp.StatusCode != 400 {
				t.Errorf("GET %s: %d", bad, resp.StatusCode)
			}
		}
	})
}

func TestAccountEmailSettings(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		s := signIn(t, app, "ana")
		_, page := s.get("/account")
		if !strings.Contains(page, `name="notify_email" value="1" checked`) || !strings.Contains(page, "No mail server is set up") {
			t.Fatal("the account page: e-mail on by default, and a word that no mail server is set up")
		}
		resp, body := s.post("/account/profile", url.Values{"email": {"ana at example"}})
		if resp.StatusCode != 422 || !strings.Contains(body, "is not an e-mail address") || !strings.Contains(body, `value="ana at example"`) ||
			strings.Contains(body, `name="notify_email" value="1" checked`) {
			t.Fatalf("bad address: %d", resp.StatusCode)
		}
		if !strings.Contains(body, "End session") && !strings.Contains(body, "Sign out here") {
			t.Error("the refused form's page lost the sessions")
		}
		profile := func() *service.Profile {
			p, err := app.Svc.MyProfile(ctx, mustPrincipal(t, app, app.Token(t, "ana")))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := profile(); p.User.Email != "" || !p.NotifyEmail {
			t.Fatal("a refused form changed the profile")
		}
		resp, _ = s.post("/account/profile", url.Values{"email": {"ana@example.com"}})
		if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/account?notice=") {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		if p := profile(); p.User.Email != "ana@example.com" || p.NotifyEmail {
			t.Fatalf("after save: %q %v", p.User.Email, p.NotifyEmail)
		}
		_, page = s.get(resp.Header.Get("Location"))
		if !strings.Contains(page, `value="ana@example.com"`) || strings.Contains(page, `name="notify_email" value="1" checked`) ||
			!strings.Contains(page, "you get no e-mail about your own work") {
			t.Fatal("the page after saving")
		}
		if resp, _ := s.post("/account/profile", url.Values{"email": {"ana@example.com"}, "notify_email": {"1"}}); resp.StatusCode != 303 || !profile().NotifyEmail {
			t.Fatalf("turn on: %d", resp.StatusCode)
		}
		if resp, _ := s.post("/account/profile", url.Values{"email": {"eve@example.com"}, "csrf": {""}}); resp.StatusCode != 403 || profile().User.Email != "ana@example.com" {
			t.Fatalf("no CSRF token: %d", resp.StatusCode)
		}
		if resp, _ := signIn(t, app, "").post("/account/profile", url.Values{"email": {"x@example.com"}}); resp.StatusCode != 401 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// shownSecret finds a webhook secret shown once: the whole match and the
// secret as typed (base64's + and / come HTML-escaped).
func shownSecret(body string) []string {
	m := regexp.MustCompile(`id="secret" class="secret">(whsec_[^<]+)<`).FindStringSubmatch(body)
	if m != nil {
		m[1] = html.UnescapeString(m[1])
	}
	return m
}
