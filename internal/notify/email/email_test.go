package email_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"html"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/notify/notifytest"
)

const password = "pa55-W0RD-s3cr3t"

var recipients = []string{"oncall@example.com", "Team Lead <lead@example.com>"}

func config(s *smtpServer, mode string) email.Config {
	return email.Config{
		Host: "127.0.0.1",
		Port: s.port,
		From: "Quench <quench@quench.example>",
		TLS:  mode,
	}
}

// send delivers m and checks that no error shows the password.
func send(t *testing.T, cfg email.Config, to []string, m notify.Message) (bool, error) {
	t.Helper()
	retryable, err := email.New(cfg, to).Notify(context.Background(), m)
	if err != nil {
		t.Logf("Notify: %v", err)
		if cfg.Password != "" && strings.Contains(err.Error(), cfg.Password) {
			t.Errorf("error reveals the password: %v", err)
		}
	}
	return retryable, err
}

func mustSend(t *testing.T, cfg email.Config, to []string, m notify.Message) {
	t.Helper()
	if retryable, err := send(t, cfg, to, m); err != nil || retryable {
		t.Fatalf("Notify = %v, %v", retryable, err)
	}
}

func root() string {
	return fmt.Sprintf("<incident-12.%d@quench.example>", notifytest.Incident().CreatedAt.Unix())
}

func TestDeliversBothPartsAndHeaders(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	m := notifytest.Messages()[notify.PhaseChanged]
	mustSend(t, config(s, email.NoTLS), recipients, m)

	got := only(t, s)
	if got.from != "quench@quench.example" {
		t.Errorf("MAIL FROM %q", got.from)
	}
	if strings.Join(got.rcpt, ",") != "oncall@example.com,lead@example.com" {
		t.Errorf("RCPT TO %q", got.rcpt)
	}
	p := parse(t, got.data)
	for name, want := range map[string]string{
		"From":           `"Quench" <quench@quench.example>`,
		"To":             `<oncall@example.com>, "Team Lead" <lead@example.com>`,
		"Subject":        "[Quench] #12 Checkout p99 latency high",
		"Message-Id":     "<msg_incident_phase_changed@quench.example>",
		"In-Reply-To":    root(),
		"References":     root(),
		"Mime-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
		"X-Quench-Event": "incident.phase_changed",
	} {
		if got := p.get(t, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"From", "To"} {
		if _, err := mail.ParseAddressList(p.header.Get(name)); err != nil {
			t.Errorf("%s does not parse: %v", name, err)
		}
	}
	date, err := p.header.Date()
	if err != nil || !date.Equal(notifytest.At) {
		t.Errorf("Date %q = %v, %v; want %v", p.header.Get("Date"), date, err, notifytest.At)
	}

	text, ok := p.parts["text/plain"]
	if !ok {
		t.Fatalf("no text/plain part: %v", p.parts)
	}
	if !strings.HasPrefix(text, "#12 moved to mitigated\n") {
		t.Errorf("text part does not start with the headline:\n%s", text)
	}
	for _, want := range []string{
		"#12 Checkout p99 latency high\nhttps://quench.example.com/incidents/12\n",
		"Phase:    active → mitigated\n",
		"Owner:    bob\n",
		"Services: checkout, payments\n",
		"Rolled back to v1.41 (MR 812 (https://git.example.com/shop/-/merge_requests/812)).",
		"\n-- \nPhase changed by alice · 2026-11-23 20:11 UTC · sent by Quench",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	htm, ok := p.parts["text/html"]
	if !ok {
		t.Fatal("no text/html part")
	}
	for _, want := range []string{
		"<title>[Quench] #12 Checkout p99 latency high</title>",
		`<a href="https://quench.example.com/incidents/12"`,
		"<strong>v1.41</strong>",
		`<a href="https://git.example.com/shop/-/merge_requests/812" rel="nofollow noopener noreferrer">MR 812</a>`,
		"<li>p99 at 300 ms</li>",
		"active → mitigated",
		"Open incident #12",
	} {
		if !strings.Contains(htm, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	checkHTMLInert(t, htm)
}

func TestOneIncidentIsOneThread(t *testing.T) {
	// Every message of #12 names the same root; incident.opened is the
	// root itself; the Subject never changes. #13 is another thread, and
	// a channel test belongs to none.
	s := startSMTP(t, serverOpts{})
	cfg := config(s, email.NoTLS)
	msgs := notifytest.Messages()
	order := []notify.Event{notify.Opened, notify.PhaseChanged, notify.UpdatePublic, notify.Stuck, notify.YouOwnPhase}
	for _, e := range order {
		mustSend(t, cfg, recipients, msgs[e])
	}
	other := msgs[notify.Opened]
	other.ID, other.Incident.Number, other.Incident.Title = "msg_13", 13, "Search is slow"
	mustSend(t, cfg, recipients, other)
	mustSend(t, cfg, recipients, msgs[notify.Test])

	got := s.mails()
	if len(got) != len(order)+2 {
		t.Fatalf("%d messages", len(got))
	}
	ids := map[string]bool{}
	for i, e := range order {
		p := parse(t, got[i].data)
		id := p.get(t, "Message-Id")
		if ids[id] {
			t.Errorf("%s: Message-ID %s used twice", e, id)
		}
		ids[id] = true
		if p.get(t, "Subject") != "[Quench] #12 Checkout p99 latency high" {
			t.Errorf("%s: Subject %q", e, p.get(t, "Subject"))
		}
		if e == notify.Opened {
			if id != root() || p.header.Get("In-Reply-To") != "" || p.header.Get("References") != "" {
				t.Errorf("opened: Message-ID %s, In-Reply-To %q, References %q; want the root %s and no parent",
					id, p.header.Get("In-Reply-To"), p.header.Get("References"), root())
			}
			continue
		}
		if id != "<"+msgs[e].ID+"@quench.example>" {
			t.Errorf("%s: Message-ID %s", e, id)
		}
		if p.get(t, "In-Reply-To") != root() || p.get(t, "References") != root() {
			t.Errorf("%s: In-Reply-To %q, References %q; want %s", e, p.get(t, "In-Reply-To"), p.get(t, "References"), root())
		}
	}
	p13 := parse(t, got[len(order)].data)
	if id := p13.get(t, "Message-Id"); !strings.HasPrefix(id, "<incident-13.") || id == root() {
		t.Errorf("#13 root %s", id)
	}
	if p13.get(t, "Subject") != "[Quench] #13 Search is slow" {
		t.Errorf("#13 Subject %q", p13.get(t, "Subject"))
	}
	test := parse(t, got[len(order)+1].data)
	if test.header.Get("In-Reply-To") != "" || test.header.Get("References") != "" || test.get(t, "Message-Id") != "<msg_test@quench.example>" {
		t.Errorf("test message threads: %v", test.header)
	}
	if test.get(t, "Subject") != "[Quench] Test message from Quench" {
		t.Errorf("test Subject %q", test.get(t, "Subject"))
	}
}

func TestPersonalMessageGoesToItsRecipients(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	mustSend(t, config(s, email.NoTLS), recipients, notifytest.Messages()[notify.YouOwnPhase])
	got := only(t, s)
	if strings.Join(got.rcpt, ",") != "bob@example.com" {
		t.Errorf("RCPT TO %q, want only the message's recipient", got.rcpt)
	}
	if to := parse(t, got.data).get(t, "To"); to != "<bob@example.com>" {
		t.Errorf("To %q", to)
	}
}

func TestPlainAuthWhereAllowed(t *testing.T) {
	// A relay on the same machine, no TLS, AUTH PLAIN allowed there.
	s := startSMTP(t, serverOpts{user: "quench", pass: password, plainAuth: true})
	cfg := config(s, email.NoTLS)
	cfg.Username, cfg.Password = "quench", password
	mustSend(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if got := only(t, s); got.user != "quench" || got.tls {
		t.Errorf("delivered as %q, tls %v", got.user, got.tls)
	}

	// Without credentials the server refuses MAIL with 5xx: permanent.
	retryable, err := send(t, config(s, email.NoTLS), recipients, notifytest.Messages()[notify.Opened])
	if err == nil || retryable {
		t.Errorf("without AUTH: %v, %v", retryable, err)
	}
}

func TestWrongPasswordIsPermanentAndRedacted(t *testing.T) {
	s := startSMTP(t, serverOpts{user: "quench", pass: "the-right-one", plainAuth: true})
	// A server that quotes what it was sent back in its refusal: the
	// error still must not show the password.
	s.set(func(s *smtpServer) {
		s.authErr = func(pw string) error {
			return smtpErrorOf(535, "5.7.8 bad credentials "+pw)
		}
	})
	cfg := config(s, email.NoTLS)
	cfg.Username, cfg.Password = "quench", password
	retryable, err := send(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if err == nil || retryable {
		t.Fatalf("Notify = %v, %v; want a permanent failure", retryable, err)
	}
	if !strings.Contains(err.Error(), "535") {
		t.Errorf("error %q does not say 535", err)
	}
	if len(s.mails()) != 0 {
		t.Error("delivered anyway")
	}
}

func TestSTARTTLSWithOwnCA(t *testing.T) {
	cert, pool := selfSigned(t)
	s := startSMTP(t, serverOpts{cert: &cert, user: "quench", pass: password})
	cfg := config(s, email.STARTTLS)
	cfg.Username, cfg.Password, cfg.RootCAs = "quench", password, pool
	mustSend(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if got := only(t, s); !got.tls || got.user != "quench" {
		t.Errorf("delivered with tls %v as %q", got.tls, got.user)
	}

	// Not trusting the certificate: nothing sent, no password offered,
	// a permanent failure an admin must fix.
	cfg.RootCAs = x509.NewCertPool()
	retryable, err := send(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if err == nil || retryable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, %v", retryable, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 1 || len(s.authSeen) != 1 {
		t.Errorf("after the refused certificate: %d messages, %d logins", len(s.got), len(s.authSeen))
	}
}

func TestSTARTTLSIsNeverSkipped(t *testing.T) {
	// A server (or a man in the middle) that does not offer STARTTLS gets
	// neither the password nor the message.
	s := startSMTP(t, serverOpts{user: "quench", pass: password, plainAuth: true})
	cfg := config(s, email.STARTTLS)
	cfg.Username, cfg.Password = "quench", password
	if _, err := send(t, cfg, recipients, notifytest.Messages()[notify.Opened]); err == nil {
		t.Fatal("sent without STARTTLS")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 0 || len(s.authSeen) != 0 {
		t.Errorf("%d messages, %d logins without TLS", len(s.got), len(s.authSeen))
	}
}

func TestImplicitTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := startSMTP(t, serverOpts{cert: &cert, implicit: true, user: "quench", pass: password})
	cfg := config(s, email.ImplicitTLS)
	cfg.Username, cfg.Password, cfg.RootCAs = "quench", password, pool
	mustSend(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if got := only(t, s); !got.tls || got.user != "quench" {
		t.Errorf("delivered with tls %v as %q", got.tls, got.user)
	}
}

func TestServerReplies(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	cfg := config(s, email.NoTLS)
	m := notifytest.Messages()[notify.Opened]
	for _, tt := range []struct {
		stage     string
		code      int
		text      string
		retryable bool
	}{
		{"RCPT", 451, "4.7.1 Greylisted, try again later", true},
		{"RCPT", 452, "4.2.2 Mailbox full", true},
		{"RCPT", 550, "5.1.1 No such user", false},
		{"RCPT", 553, "5.7.1 Relaying denied", false},
		{"DATA", 451, "4.3.0 Local error", true},
		{"DATA", 554, "5.7.1 Message rejected as spam", false},
	} {
		s.set(func(s *smtpServer) {
			s.rcptErr, s.dataErr = nil, nil
			e := smtpErrorOf(tt.code, tt.text)
			if tt.stage == "RCPT" {
				s.rcptErr = e
			} else {
				s.dataErr = e
			}
		})
		retryable, err := send(t, cfg, recipients, m)
		if err == nil {
			t.Errorf("%s %d: no error", tt.stage, tt.code)
			continue
		}
		if retryable != tt.retryable {
			t.Errorf("%s %d: retryable = %v", tt.stage, tt.code, retryable)
		}
		wait, ok := notify.RetryAfter(err)
		if tt.retryable && (!ok || wait != email.GreylistWait) {
			t.Errorf("%s %d: wait %v, %v", tt.stage, tt.code, wait, ok)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(tt.code)) {
			t.Errorf("%s %d: error %q lacks the code", tt.stage, tt.code, err)
		}
	}
	if len(s.mails()) != 0 {
		t.Errorf("%d messages stored", len(s.mails()))
	}
	s.set(func(s *smtpServer) { s.rcptErr, s.dataErr = nil, nil })
	mustSend(t, cfg, recipients, m)
}

func TestUnreachableServerIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := email.Config{Host: "127.0.0.1", Port: port, From: "quench@quench.example", TLS: email.NoTLS, Username: "quench", Password: password}
	retryable, err := send(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if err == nil || !retryable {
		t.Fatalf("Notify = %v, %v; want retryable", retryable, err)
	}

	// An expired context: retryable, nothing dialled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retryable, err = email.New(cfg, recipients).Notify(ctx, notifytest.Messages()[notify.Opened])
	if err == nil || !retryable {
		t.Fatalf("cancelled: %v, %v", retryable, err)
	}
}

func TestHeaderInjectionFromTitle(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	m := notifytest.Messages()[notify.PhaseChanged]
	m.Incident.Title = "DB down\r\nBcc: victim@example.com\r\nX-Evil: 1\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>"
	m.Headline = "#12 moved\r\nBcc: victim2@example.com"
	m.Actor = "mallory\r\nReply-To: evil@example.com"
	m.Event = "incident.phase_changed\r\nX-Evil: 2"
	mustSend(t, config(s, email.NoTLS), recipients, m)

	got := only(t, s)
	if strings.Join(got.rcpt, ",") != "oncall@example.com,lead@example.com" {
		t.Errorf("RCPT TO %q", got.rcpt)
	}
	p := parse(t, got.data)
	for _, name := range []string{"Bcc", "X-Evil", "Reply-To"} {
		if v, ok := p.header[name]; ok {
			t.Errorf("header %s: %q", name, v)
		}
	}
	// The title is in the Subject, folded onto continuation lines that
	// start with white space; no line of the header starts a field of
	// its own from it.
	for _, l := range strings.Split(p.raw, "\r\n") {
		if regexp.MustCompile(`(?i)^(bcc|x-evil|reply-to|content-type: text/html)`).MatchString(l) {
			t.Errorf("header line %q", l)
		}
	}
	if n := len(p.header["Content-Type"]); n != 1 {
		t.Errorf("%d Content-Type headers", n)
	}
	subject := p.get(t, "Subject")
	if strings.ContainsAny(subject, "\r\n") || !strings.HasPrefix(subject, "[Quench] #12 DB down Bcc: victim@example.com X-Evil: 1") {
		t.Errorf("Subject %q", subject)
	}
	checkHTMLInert(t, p.parts["text/html"])
}

func TestHTMLPartIsInert(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	payloads := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`<svg onload=alert(1)>`,
		`[x](javascript:alert(1))`,
		`[x](jAvAsCrIpT:alert(1))`,
		`[x](data:text/html;base64,PHNjcmlwdD4=)`,
		`{{constructor.constructor('alert(1)')()}}`,
		`"><script>alert(1)</script>`,
		`' onmouseover='alert(1)`,
	}
	m := notifytest.Messages()[notify.UpdatePublic]
	m.Incident.Title = strings.Join(payloads, " ")
	m.Headline = strings.Join(payloads, " ")
	m.Body = strings.Join(payloads, "\n\n")
	m.Actor = payloads[0]
	m.Incident.Owner = payloads[1]
	m.Incident.Severity = payloads[7]
	m.Incident.Services = payloads[:3]
	m.Incident.URL = "javascript:alert(1)"
	mustSend(t, config(s, email.NoTLS), recipients, m)

	p := parse(t, only(t, s).data)
	htm := p.parts["text/html"]
	checkHTMLInert(t, htm)
	if strings.Contains(htm, `href="javascript`) || strings.Contains(htm, "Open incident") {
		t.Error("the javascript: incident URL is linked")
	}
	if !strings.Contains(htm, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the title is not shown as the text it is")
	}
	// The unsafe incident URL is not linked anywhere; the text part shows
	// no link either.
	if strings.Contains(p.parts["text/plain"], "\njavascript:alert(1)\n") {
		t.Errorf("text part links javascript:\n%s", p.parts["text/plain"])
	}
}

// The HTML part's grammar: the tags the template and markdown.Render
// write, attributes from a short list, href only http(s)/mailto, no
// event handler anywhere, '<' in text escaped.
var (
	tagRE     = regexp.MustCompile(`^<(/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*/?>`)
	attrRE    = regexp.MustCompile(`\s+([a-z-]+)(?:="([^"<>]*)")?`)
	htmlTags  = "html head meta title body div table tr td p h1 a strong em del pre code ul ol li blockquote br hr input thead tbody th"
	htmlAttrs = "lang charset name content style role width cellpadding cellspacing align href rel class start type checked disabled"
)

func checkHTMLInert(t *testing.T, htm string) {
	t.Helper()
	if htm == "" {
		t.Fatal("empty HTML part")
	}
	rest := strings.TrimPrefix(htm, "<!DOCTYPE html>")
	for {
		i := strings.IndexAny(rest, "<>")
		if i < 0 {
			break
		}
		if rest[i] == '>' {
			t.Fatalf("unescaped '>' at %q", rest[i:min(len(rest), i+60)])
		}
		rest = rest[i:]
		m := tagRE.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("not an allowed tag at %q", rest[:min(len(rest), 80)])
		}
		if !strings.Contains(" "+htmlTags+" ", " "+m[2]+" ") {
			t.Fatalf("tag <%s> in the HTML part", m[2])
		}
		for _, a := range attrRE.FindAllStringSubmatch(m[3], -1) {
			name, value := a[1], html.UnescapeString(a[2])
			if !strings.Contains(" "+htmlAttrs+" ", " "+name+" ") {
				t.Fatalf("attribute %s on <%s>", name, m[2])
			}
			if name == "href" && !regexp.MustCompile(`^(https?://|mailto:)`).MatchString(value) {
				t.Fatalf("href %q", value)
			}
			if name == "style" && regexp.MustCompile(`(?i)url\(|expression|javascript|@import`).MatchString(value) {
				t.Fatalf("style %q", value)
			}
		}
		rest = rest[len(m[0]):]
	}
}

func TestValidate(t *testing.T) {
	ok := email.Config{Host: "smtp.example.com", From: "Quench <quench@example.com>", Username: "u", Password: password}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(c *email.Config)
	}{
		{"no host", func(c *email.Config) { c.Host = "" }},
		{"host with a path", func(c *email.Config) { c.Host = "smtp.example.com/x" }},
		{"host with CRLF", func(c *email.Config) { c.Host = "smtp.example.com\r\nRCPT TO:<x@y>" }},
		{"port", func(c *email.Config) { c.Port = 70000 }},
		{"TLS mode", func(c *email.Config) { c.TLS = "ssl" }},
		{"no From", func(c *email.Config) { c.From = "" }},
		{"From without domain", func(c *email.Config) { c.From = "quench" }},
		{"From with CRLF", func(c *email.Config) { c.From = "Quench <q@example.com>\r\nBcc: v@example.com" }},
		{"user without password", func(c *email.Config) { c.Password = "" }},
		{"password without user", func(c *email.Config) { c.Username = "" }},
		{"password in clear text to a remote host", func(c *email.Config) { c.TLS = email.NoTLS }},
		{"HELO name", func(c *email.Config) { c.HeloName = "bad name" }},
		{"negative timeout", func(c *email.Config) { c.Timeout = -time.Second }},
	} {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("%s: error reveals the password: %v", tt.name, err)
		}
		// An invalid config never connects.
		if retryable, err := email.New(c, recipients).Notify(context.Background(), notifytest.Messages()[notify.Opened]); err == nil || retryable {
			t.Errorf("%s: Notify = %v, %v", tt.name, retryable, err)
		}
	}
	for _, c := range []email.Config{
		{Host: "localhost", From: "q@example.com", TLS: email.NoTLS, Username: "u", Password: "p"},
		{Host: "127.0.0.1", Port: 2525, From: "q@example.com", TLS: email.NoTLS},
		{Host: "::1", From: "q@example.com", TLS: email.NoTLS, Username: "u", Password: "p"},
		{Host: "mail.example.com", From: "q@example.com", TLS: email.ImplicitTLS, HeloName: "quench.example.com"},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
	for _, s := range []string{ok.String(), fmt.Sprintf("%v %+v %#v", ok, ok, ok), email.New(ok, recipients).String(), fmt.Sprintf("%#v", email.New(ok, recipients))} {
		if strings.Contains(s, password) {
			t.Errorf("%q reveals the password", s)
		}
	}
}

func TestRecipients(t *testing.T) {
	if err := email.ValidateAddresses([]string{"a@example.com", "B <b@example.com>"}); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]string{nil, {"not an address"}, {"a@example.com", "x\r\nBcc: v@example.com"}, {""}} {
		if err := email.ValidateAddresses(bad); err == nil {
			t.Errorf("ValidateAddresses(%q) accepted", bad)
		}
	}
	s := startSMTP(t, serverOpts{})
	retryable, err := send(t, config(s, email.NoTLS), []string{"x\r\nBcc: v@example.com"}, notifytest.Messages()[notify.Opened])
	if err == nil || retryable {
		t.Errorf("bad recipient: %v, %v", retryable, err)
	}
	retryable, err = send(t, config(s, email.NoTLS), nil, notifytest.Messages()[notify.Opened])
	if err == nil || retryable {
		t.Errorf("no recipient: %v, %v", retryable, err)
	}
	if len(s.mails()) != 0 {
		t.Error("sent anyway")
	}
}

func TestSubject(t *testing.T) {
	m := notifytest.Messages()[notify.Opened]
	for title, want := range map[string]string{
		"Checkout p99 latency high":               "[Quench] #12 Checkout p99 latency high",
		"a\r\nb\tc\x00d\u2028e\u202ef":            "[Quench] #12 a b c d e f",
		"  spaced   out  ":                        "[Quench] #12 spaced out",
		strings.Repeat("é", 300):                  "[Quench] #12 " + strings.Repeat("é", 136) + "…",
		"Ünïcödé 🔥 title":                         "[Quench] #12 Ünïcödé 🔥 title",
		"=?utf-8?q?encoded=0D=0ABcc:_x@example?=": "[Quench] #12 =?utf-8?q?encoded=0D=0ABcc:_x@example?=",
	} {
		m.Incident.Title = title
		if got := email.Subject(m); got != want {
			t.Errorf("Subject(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestNonASCIISubjectSurvivesTheWire(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	m := notifytest.Messages()[notify.Opened]
	m.Incident.Title = "Zahlungen schlagen fehl — 🔥 =?utf-8?q?x?="
	mustSend(t, config(s, email.NoTLS), recipients, m)
	p := parse(t, only(t, s).data)
	if got := p.get(t, "Subject"); got != "[Quench] #12 "+m.Incident.Title {
		t.Errorf("Subject %q", got)
	}
}

func TestHangingServerTimesOut(t *testing.T) {
	// A server that accepts and never greets: the attempt ends at the
	// timeout as a retryable failure, not never.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			conns <- c
		}
	}()
	cfg := email.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "quench@quench.example", TLS: email.NoTLS, Timeout: 100 * time.Millisecond}
	retryable, err := send(t, cfg, recipients, notifytest.Messages()[notify.Opened])
	if err == nil || !retryable {
		t.Fatalf("Notify = %v, %v; want retryable", retryable, err)
	}
	(<-conns).Close()
}

func TestMessageWithoutIDIsRefused(t *testing.T) {
	s := startSMTP(t, serverOpts{})
	m := notifytest.Messages()[notify.Opened]
	m.ID = ""
	if retryable, err := send(t, config(s, email.NoTLS), recipients, m); err == nil || retryable {
		t.Errorf("Notify = %v, %v", retryable, err)
	}
	// Any other ID becomes a valid Message-ID, distinct IDs distinct ones.
	m = notifytest.Messages()[notify.PhaseChanged]
	for _, id := range []string{"a b", "a<b>", "a@b", "..", "ünï"} {
		m.ID = id
		mustSend(t, config(s, email.NoTLS), recipients, m)
	}
	seen := map[string]bool{}
	for _, r := range s.mails() {
		id := parse(t, r.data).get(t, "Message-Id")
		if !regexp.MustCompile(`^<[A-Za-z0-9._+=-]+@quench\.example>$`).MatchString(id) || seen[id] {
			t.Errorf("Message-ID %q", id)
		}
		seen[id] = true
	}
}

func TestOneNotifierSendsConcurrently(t *testing.T) {
	// The outbox may run one notifier from several workers.
	cert, pool := selfSigned(t)
	s := startSMTP(t, serverOpts{cert: &cert, user: "quench", pass: password})
	cfg := config(s, email.STARTTLS)
	cfg.Username, cfg.Password, cfg.RootCAs = "quench", password, pool
	n := email.New(cfg, recipients)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			m := notifytest.Messages()[notify.UpdatePublic]
			m.ID = fmt.Sprintf("msg_%d", i)
			_, err := n.Notify(context.Background(), m)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(s.mails()); got != 8 {
		t.Errorf("%d messages delivered", got)
	}
}
