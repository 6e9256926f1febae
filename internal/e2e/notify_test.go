package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/jobs"
	"github.com/quenchhq/quench/internal/notify/webhook"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// notifyWorld is an app with an admin, a responder and an outbox worker
// the test drives with the fake clock.
type notifyWorld struct {
	app    *testenv.App
	admin  string // token, every scope
	ana    string // responder token
	outbox *jobs.Outbox
	mail   *testenv.MailSink
}

// eachNotifyApp runs fn on SQLite and PostgreSQL, e-mail on and pointed at
// a real SMTP server in the test.
func eachNotifyApp(t *testing.T, fn func(t *testing.T, w *notifyWorld)) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			mail := testenv.NewMailSink(t)
			app := testenv.StartApp(t, d, func(o *service.Options) { o.Email = true })
			w := &notifyWorld{app: app, mail: mail, outbox: app.Outbox(mail.Config)}
			w.admin = app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
			w.ana = app.User(t, "ana", auth.RoleResponder)
			fn(t, w)
		})
	}
}

// channel adds a channel through the API and returns its id and secret.
func (w *notifyWorld) channel(t *testing.T, body map[string]any) (int64, string) {
	t.Helper()
	r := w.app.Must(t, 201, "POST", "/api/v1/channels", w.admin, body)
	secret, _ := r.JSON["secret"].(string)
	return int64(r.JSON["id"].(float64)), secret
}

func (w *notifyWorld) drain(t *testing.T) int {
	t.Helper()
	return w.outbox.Drain(context.Background())
}

// payload decodes a webhook request.
func payload(t *testing.T, r testenv.Received) webhook.Payload {
	t.Helper()
	var p webhook.Payload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("webhook body: %v: %s", err, r.Body)
	}
	return p
}

func deliveries(t *testing.T, w *notifyWorld, query string) []map[string]any {
	t.Helper()
	r := w.app.Must(t, 200, "GET", "/api/v1/deliveries?"+query, w.admin, nil)
	var out []map[string]any
	for _, d := range r.JSON["deliveries"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

// A receiver that refuses connections, then answers 503, then comes back
// gets every message exactly once acknowledged, signed, with the same
// webhook-id and body on every attempt, and nothing after its 2xx.
func TestDeliveryThroughOutage(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		sink := testenv.NewSink(t)
		_, secret := w.channel(t, map[string]any{"type": "webhook", "name": "ops-hook", "url": sink.URL, "audience": "team",
			"events": []string{"incident.opened"}})
		sink.Down()
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "Spot instances fail to launch"})

		// Refused: tried at once, then after 1 s and 2 s (backoff doubles).
		for _, wait := range []time.Duration{0, time.Second, 2 * time.Second} {
			w.app.Clock.Advance(wait)
			if n := w.drain(t); n != 1 {
				t.Fatalf("after %s: %d attempts, want 1", wait, n)
			}
		}
		d := deliveries(t, w, "")[0]
		if d["state"] != "failing" || d["attempts"] != 3.0 || !strings.Contains(d["last_error"].(string), "127.0.0.1") {
			t.Fatalf("while refused: %v", d)
		}
		if strings.Contains(d["last_error"].(string), "/hook") {
			t.Errorf("the error shows the URL's path: %s", d["last_error"])
		}
		// Not due yet: nothing is sent before the backoff has passed.
		if n := w.drain(t); n != 0 {
			t.Fatalf("sent before its time: %d", n)
		}
		sink.Up()
		sink.Answer(func(n int) int {
			if n < 2 {
				return 503 // with Retry-After: 1
			}
			return 200
		})
		for _, wait := range []time.Duration{4 * time.Second, time.Second, time.Second} {
			w.app.Clock.Advance(wait)
			if n := w.drain(t); n != 1 {
				t.Fatalf("after %s: %d attempts, want 1", wait, n)
			}
		}
		// Long after: never again.
		w.app.Clock.Advance(24 * time.Hour)
		if n := w.drain(t); n != 0 {
			t.Fatalf("a sent message was tried again %d times", n)
		}
		got := sink.Take()
		if len(got) != 3 || got[0].Status != 503 || got[1].Status != 503 || got[2].Status != 200 {
			t.Fatalf("sink saw %d requests", len(got))
		}
		for _, r := range got {
			if r.ID() != got[0].ID() || string(r.Body) != string(got[0].Body) || !strings.HasPrefix(r.ID(), "msg_") {
				t.Errorf("attempts differ: id %q body %s", r.ID(), r.Body)
			}
			if err := webhook.Verify(secret, r.Header, r.Body, time.Now(), time.Minute); err != nil {
				t.Errorf("signature: %v", err)
			}
		}
		if p := payload(t, got[2]); p.Type != "incident.opened" || p.Data.Incident.Title != "Spot instances fail to launch" {
			t.Errorf("payload %+v", p)
		}
		d = deliveries(t, w, "")[0]
		if d["state"] != "sent" || d["attempts"] != 6.0 || d["sent_at"] == nil || d["key"] != got[0].ID() {
			t.Fatalf("after delivery: %v", d)
		}
	})
}

// Messages about one incident reach one channel in the order they
// happened, even when the first attempt of the first one fails.
func TestDeliveryOrderPerIncident(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		sink := testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "webhook", "name": "hook", "url": sink.URL, "audience": "public"})
		sink.Answer(func(n int) int {
			if n == 0 {
				return 500
			}
			return 204
		})
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "certificates broken"})
		for _, to := range []string{"mitigated", "resolved"} {
			w.app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": to, "note": "done: " + to})
		}
		if n := w.drain(t); n != 1 {
			t.Fatalf("first pass sent %d, want only the head of the lane", n)
		}
		w.app.Clock.Advance(time.Second)
		if n := w.drain(t); n != 3 {
			t.Fatalf("second pass sent %d, want all 3 in turn", n)
		}
		var seen []string
		for _, r := range sink.Take() {
			p := payload(t, r)
			seen = append(seen, fmt.Sprintf("%s:%s:%d", p.Type, p.Data.To, r.Status))
		}
		want := "incident.opened:active:500 incident.opened:active:204 incident.phase_changed:mitigated:204 incident.phase_changed:resolved:204"
		if strings.Join(seen, " ") != want {
			t.Fatalf("order\n got %s\nwant %s", strings.Join(seen, " "), want)
		}
	})
}

// A receiver that accepts and never answers holds up only itself.
func TestHangingReceiverDelaysNoOtherChannel(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		stuck, healthy := testenv.NewSink(t), testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "webhook", "name": "stuck", "url": stuck.URL, "audience": "team"})
		w.channel(t, map[string]any{"type": "slack", "name": "healthy", "url": healthy.URL, "audience": "team"})
		hung := stuck.Hang()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.outbox.Run(ctx) }()
		defer func() { stuck.Release(); cancel(); <-done }()

		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "runners down"})
		select {
		case <-hung:
		case <-time.After(30 * time.Second):
			t.Fatal("the hanging receiver got no request")
		}
		// While the first request hangs, the other channel gets its message.
		deadline := time.Now().Add(30 * time.Second)
		for healthy.Count() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if healthy.Count() == 0 {
			t.Fatal("the healthy channel waited for the hanging one")
		}
		if got := stuck.Take(); len(got) != 1 || got[0].Status != 0 {
			t.Fatalf("hanging receiver: %d requests", len(got))
		}
		if got := healthy.Take(); len(got) != 1 || !strings.Contains(string(got[0].Body), "runners down") {
			t.Fatalf("healthy receiver got %v", got)
		}
	})
}

// E-mail goes over real SMTP: one thread per incident, a text and an HTML
// part; people hear of phases they own, never of what they did.
func TestEmailThreadsAndPersonalMessages(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		w.channel(t, map[string]any{"type": "email", "name": "ops-mail", "recipients": []string{"ops@example.com"}, "audience": "team",
			"events": []string{"incident.opened", "incident.phase_changed"}})
		w.app.Must(t, 200, "PATCH", "/api/v1/me", w.ana, map[string]any{"email": "ana@example.com"})
		bo := w.app.User(t, "bo", auth.RoleResponder)
		w.app.Must(t, 200, "PATCH", "/api/v1/me", bo, map[string]any{"email": "bo@example.com"})

		w.app.Must(t, 201, "POST", "/api/v1/incidents", bo, map[string]any{"title": "umb messages missing",
			"summary": "tree names changed, **config** did not", "owners": map[string]string{"active": "ana", "mitigated": "bo"}})
		w.app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", w.ana, map[string]any{"to": "mitigated", "note": "sent the missing messages"})
		w.drain(t)
		mails := w.mail.Take()
		byTo := map[string][]testenv.Mail{}
		for _, m := range mails {
			byTo[strings.Join(m.To, ",")] = append(byTo[strings.Join(m.To, ",")], m)
		}
		if len(mails) != 4 || len(byTo["ops@example.com"]) != 2 || len(byTo["ana@example.com"]) != 1 || len(byTo["bo@example.com"]) != 1 {
			t.Fatalf("mails: %v", keysOf(byTo))
		}
		// ana was given phase active by bo; bo's phase was entered by ana.
		if s := byTo["ana@example.com"][0].Msg.Header.Get("Subject"); !strings.Contains(s, "#1") {
			t.Errorf("ana's subject %q", s)
		}
		if b := string(byTo["ana@example.com"][0].Data); !strings.Contains(b, "You now own phase active of #1") {
			t.Errorf("ana's mail does not say she owns the phase:\n%s", b)
		}
		if b := string(byTo["bo@example.com"][0].Data); !strings.Contains(b, "#1 moved to your phase: mitigated") {
			t.Errorf("bo's mail does not say his phase began:\n%s", b)
		}
		opened, moved := byTo["ops@example.com"][0], byTo["ops@example.com"][1]
		if opened.Msg.Header.Get("Subject") != moved.Msg.Header.Get("Subject") {
			t.Errorf("subjects differ: %q %q", opened.Msg.Header.Get("Subject"), moved.Msg.Header.Get("Subject"))
		}
		root := opened.Msg.Header.Get("Message-Id")
		if root == "" || moved.Msg.Header.Get("In-Reply-To") != root || !strings.Contains(moved.Msg.Header.Get("References"), root) {
			t.Errorf("not one thread: opened %q, reply to %q, references %q", root, moved.Msg.Header.Get("In-Reply-To"), moved.Msg.Header.Get("References"))
		}
		text, html := parts(t, moved)
		if !strings.Contains(text, "sent the missing messages") || !strings.Contains(html, "sent the missing messages") {
			t.Errorf("the note is not in both parts:\n%s\n%s", text, html)
		}
		if text, _ := parts(t, opened); !strings.Contains(text, "config did not") || strings.Contains(text, "**") {
			t.Errorf("the summary is not plain text in the text part:\n%s", text)
		}
		// Opting out stops personal mail; channels go on.
		w.app.Must(t, 200, "PATCH", "/api/v1/me", w.ana, map[string]any{"notify_email": false})
		w.app.Must(t, 200, "PATCH", "/api/v1/incidents/1", bo, map[string]any{"owners": map[string]string{"resolved": "ana"}})
		w.app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", bo, map[string]any{"to": "resolved", "note": "config fixed"})
		w.drain(t)
		for _, m := range w.mail.Take() {
			if m.To[0] != "ops@example.com" {
				t.Errorf("mail to %v after opting out", m.To)
			}
		}
	})
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// parts returns the text and HTML parts of a multipart/alternative mail.
func parts(t *testing.T, m testenv.Mail) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", m.Msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(strings.NewReader(string(m.Body)), params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := p.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = b.String()
		case "text/html":
			html = b.String()
		}
	}
	if text == "" || html == "" {
		t.Fatalf("want a text and an HTML part, got text %d bytes, html %d bytes", len(text), len(html))
	}
	return text, html
}

// A title made to ping a whole Slack channel, forge a link, add a mail
// header or run a script arrives as plain text in every medium.
func TestHostileTitleArrivesInert(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		slackSink, hookSink := testenv.NewSink(t), testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "slack", "name": "slack", "url": slackSink.URL, "audience": "team", "events": []string{"incident.opened"}})
		w.channel(t, map[string]any{"type": "webhook", "name": "hook", "url": hookSink.URL, "audience": "team", "events": []string{"incident.opened"}})
		w.channel(t, map[string]any{"type": "email", "name": "mail", "recipients": []string{"ops@example.com"}, "audience": "team", "events": []string{"incident.opened"}})
		title := "<!channel> <https://evil.example|ok> <script>alert(1)</script>\r\nBcc: victim@example.com"
		r := w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": title})
		stored := r.JSON["title"].(string)
		w.drain(t)

		s := slackSink.Take()
		if len(s) != 1 {
			t.Fatalf("slack got %d", len(s))
		}
		for _, bad := range []string{"<!channel>", "<https://evil.example|ok>", "<script>"} {
			if strings.Contains(string(s[0].Body), bad) {
				t.Errorf("slack body carries %q raw: %s", bad, s[0].Body)
			}
		}
		if !strings.Contains(string(s[0].Body), "&lt;!channel&gt;") {
			t.Errorf("slack body does not show the escaped text: %s", s[0].Body)
		}
		h := hookSink.Take()
		if len(h) != 1 || payload(t, h[0]).Data.Incident.Title != stored {
			t.Fatalf("webhook title is not the stored title as data")
		}
		m := w.mail.Take()
		if len(m) != 1 {
			t.Fatalf("mail: %d", len(m))
		}
		if len(m[0].To) != 1 || m[0].Msg.Header.Get("Bcc") != "" || strings.Contains(m[0].Msg.Header.Get("Subject"), "\n") {
			t.Errorf("header injection: to %v, headers %v", m[0].To, m[0].Msg.Header)
		}
		if _, html := parts(t, m[0]); strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
			t.Errorf("HTML part is not inert:\n%s", html)
		}
	})
}

// What a public channel was about to receive, but became internal before
// it went out, does not go out.
func TestWithdrawnBeforeSendingIsSuppressed(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		sink := testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "webhook", "name": "status", "url": sink.URL, "audience": "public",
			"events": []string{"incident.update.public"}})
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "checkout slow"})
		u := w.app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "oops, internal host db-7", "visibility": "public"})
		w.app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/1/updates/%d", int64(u.JSON["id"].(float64))), w.ana, map[string]any{"visibility": "internal"})
		w.app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", w.ana, map[string]any{"body": "we are on it", "visibility": "public"})
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "db failover"})
		w.app.Must(t, 201, "POST", "/api/v1/incidents/2/updates", w.ana, map[string]any{"body": "failing over", "visibility": "public"})
		w.app.Must(t, 200, "PATCH", "/api/v1/incidents/2", w.ana, map[string]any{"visibility": "confidential"})
		w.drain(t)
		got := sink.Take()
		if len(got) != 1 || !strings.Contains(string(got[0].Body), "we are on it") {
			t.Fatalf("public channel got %d messages: %v", len(got), got)
		}
		supp := deliveries(t, w, "state=suppressed")
		if len(supp) != 2 {
			t.Fatalf("suppressed: %v", supp)
		}
	})
}

// Nudges: an active incident nobody owns, and incidents that stay in a
// phase too long, are told once per phase entry, even across a clock jump.
func TestNudges(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		sink := testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "webhook", "name": "team", "url": sink.URL, "audience": "team",
			"events": []string{"incident.unowned", "incident.stuck"}})
		ctx := context.Background()
		nudge := func() []string {
			t.Helper()
			if err := w.app.Svc.Nudge(ctx); err != nil {
				t.Fatal(err)
			}
			w.drain(t)
			var out []string
			for _, r := range sink.Take() {
				p := payload(t, r)
				out = append(out, fmt.Sprintf("%s#%d:%s", p.Type, p.Data.Incident.Number, p.Data.Incident.Phase))
			}
			// Different incidents are different lanes, sent side by side:
			// their order of arrival is not defined.
			slices.Sort(out)
			return out
		}
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "nobody's", "owners": map[string]string{"active": ""}})
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "owned", "owners": map[string]string{"active": "ana"}})
		w.app.Clock.Advance(9 * time.Minute)
		if got := nudge(); len(got) != 0 {
			t.Fatalf("nudged early: %v", got)
		}
		w.app.Clock.Advance(2 * time.Minute)
		if got := nudge(); strings.Join(got, " ") != "incident.unowned#1:active" {
			t.Fatalf("after 11 minutes: %v", got)
		}
		if got := nudge(); len(got) != 0 {
			t.Fatalf("nudged twice: %v", got)
		}
		w.app.Clock.Advance(24 * time.Hour)
		if got := nudge(); strings.Join(got, " ") != "incident.stuck#1:active incident.stuck#2:active" {
			t.Fatalf("after a day: %v", got)
		}
		w.app.Must(t, 200, "POST", "/api/v1/incidents/2/transitions", w.ana, map[string]any{"to": "mitigated", "note": "restarted"})
		// A jump of 30 days: one nudge per phase entry, no burst.
		w.app.Clock.Advance(30 * 24 * time.Hour)
		if got := nudge(); strings.Join(got, " ") != "incident.stuck#2:mitigated" {
			t.Fatalf("after the jump: %v", got)
		}
		if got := nudge(); len(got) != 0 {
			t.Fatalf("again after the jump: %v", got)
		}
	})
}

// Channel settings are checked when saved: addresses inside the network
// are refused, the audience must be said, a public channel cannot ask for
// internal events, and a webhook secret is shown only when it is made.
func TestChannelSettings(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		for _, u := range []string{"http://169.254.169.254/latest", "http://10.0.0.1/x", "http://[fd00::1]/x", "http://2130706433/",
			"file:///etc/passwd", "http://user:pw@example.com/"} {
			r := w.app.Request(t, "POST", "/api/v1/channels", w.admin, map[string]any{"type": "webhook", "name": "x", "url": u, "audience": "team"})
			if r.Status != 400 || r.Code() != "url_not_allowed" {
				t.Errorf("%s: %d %s", u, r.Status, r.Body)
			}
		}
		for _, body := range []map[string]any{
			{"type": "webhook", "name": "x", "url": "http://127.0.0.1:9/x"},                                                                      // no audience
			{"type": "webhook", "name": "x", "url": "http://127.0.0.1:9/x", "audience": "public", "events": []string{"incident.alert_attached"}}, // internal event
			{"type": "email", "name": "x", "recipients": []string{"not an address"}, "audience": "team"},
			{"type": "email", "name": "x", "recipients": []string{"a@example.com\r\nBcc: b@example.com"}, "audience": "team"},
			{"type": "carrier-pigeon", "name": "x", "audience": "team"},
			{"type": "webhook", "name": "x", "url": "http://127.0.0.1:9/x", "audience": "team", "secret": "hunter2"},
		} {
			if r := w.app.Request(t, "POST", "/api/v1/channels", w.admin, body); r.Status != 422 {
				t.Errorf("%v: %d %s", body, r.Status, r.Body)
			}
		}
		id, secret := w.channel(t, map[string]any{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:9/a/secret-path", "audience": "team"})
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q", secret)
		}
		path := fmt.Sprintf("/api/v1/channels/%d", id)
		got := w.app.Must(t, 200, "GET", path, w.admin, nil)
		if strings.Contains(string(got.Body), secret) || strings.Contains(string(got.Body), "secret-path") || got.JSON["has_secret"] != true {
			t.Errorf("the channel shows its secret or URL path: %s", got.Body)
		}
		renamed := w.app.Must(t, 200, "PATCH", path, w.admin, map[string]any{"name": "renamed"})
		if renamed.JSON["secret"] != nil {
			t.Error("a rename showed the secret")
		}
		moved := w.app.Must(t, 200, "PATCH", path, w.admin, map[string]any{"url": "http://127.0.0.1:9/b"})
		if s, _ := moved.JSON["secret"].(string); s == "" || s == secret {
			t.Errorf("a new URL kept the old secret (%q)", s)
		}
		if r := w.app.Request(t, "PATCH", path, w.admin, map[string]any{"url": "http://169.254.169.254/"}); r.Status != 400 {
			t.Errorf("private URL on change: %d", r.Status)
		}
		w.app.Must(t, 204, "DELETE", path, w.admin, nil)
		w.app.Must(t, 404, "GET", path, w.admin, nil)
	})
}

// An alert storm attaching many alerts to one incident tells a channel
// once while it has not yet been told.
func TestAlertStormIsOneMessage(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		sink := testenv.NewSink(t)
		w.channel(t, map[string]any{"type": "webhook", "name": "team", "url": sink.URL, "audience": "team",
			"events": []string{"incident.opened", "incident.alert_attached"}})
		tok, in, err := w.app.Svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: "generic", Name: "cron"})
		if err != nil {
			t.Fatal(err)
		}
		var alerts []map[string]any
		for i := range 50 {
			alerts = append(alerts, map[string]any{"title": fmt.Sprintf("job %d failed", i), "severity": "critical", "group_key": "cron"})
		}
		w.app.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.ID, tok, map[string]any{"alerts": alerts})
		w.drain(t)
		got := sink.Take()
		var types []string
		for _, r := range got {
			types = append(types, string(payload(t, r).Type))
		}
		if strings.Join(types, " ") != "incident.opened incident.alert_attached" {
			t.Fatalf("a storm of 50 alerts sent %v", types)
		}
	})
}

// A receiver that refuses for good fails the message at once; one that
// stays down past the retry horizon makes it dead. Both can be retried by
// hand, and a sent message never.
func TestFailedAndDeadMessages(t *testing.T) {
	eachNotifyApp(t, func(t *testing.T, w *notifyWorld) {
		gone, down := testenv.NewSink(t), testenv.NewSink(t)
		gone.Answer(func(int) int { return 404 })
		w.channel(t, map[string]any{"type": "slack", "name": "archived", "url": gone.URL, "audience": "team", "events": []string{"incident.opened"}})
		w.channel(t, map[string]any{"type": "webhook", "name": "down", "url": down.URL, "audience": "team", "events": []string{"incident.opened"}})
		down.Down()
		w.app.Must(t, 201, "POST", "/api/v1/incidents", w.ana, map[string]any{"title": "x"})
		w.drain(t)
		if got := gone.Take(); len(got) != 1 || got[0].Status != 404 {
			t.Fatalf("archived channel: %v", got)
		}
		failed := deliveries(t, w, "state=failed")
		if len(failed) != 1 || failed[0]["channel"] != "archived" || !strings.Contains(failed[0]["last_error"].(string), "404") {
			t.Fatalf("failed: %v", failed)
		}
		// Backoff is capped at 5 minutes: about 300 attempts in a day.
		attempts := 1
		for i := 0; i < 400 && len(deliveries(t, w, "state=dead")) == 0; i++ {
			w.app.Clock.Advance(5 * time.Minute)
			attempts += w.drain(t)
		}
		dead := deliveries(t, w, "state=dead")
		if len(dead) != 1 || dead[0]["channel"] != "down" || attempts < 280 || attempts > 300 {
			t.Fatalf("after a day down: %d attempts, dead %v", attempts, dead)
		}
		// Retried by hand, both go out once their receivers are back.
		down.Up()
		gone.Answer(func(int) int { return 200 })
		for _, d := range append(failed, dead...) {
			w.app.Must(t, 202, "POST", fmt.Sprintf("/api/v1/deliveries/%d/retry", int64(d["id"].(float64))), w.admin, nil)
		}
		if n := w.drain(t); n != 2 {
			t.Fatalf("retries sent %d", n)
		}
		if len(gone.Take()) != 1 || len(down.Take()) != 1 {
			t.Fatal("retried messages did not arrive")
		}
		r := w.app.Request(t, "POST", fmt.Sprintf("/api/v1/deliveries/%d/retry", int64(dead[0]["id"].(float64))), w.admin, nil)
		if r.Status != 409 || r.Code() != "already_sent" {
			t.Fatalf("retry of a sent message: %d %s", r.Status, r.Body)
		}
	})
}
