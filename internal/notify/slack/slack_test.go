package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/notifytest"
	"github.com/quenchhq/quench/internal/notify/slack"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the current output")

// sink is an incoming webhook on loopback: it records every body and
// answers with the status and body the test chose.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	status int
	answer string
	header http.Header
}

func newSink(t *testing.T) *sink {
	s := &sink{status: http.StatusOK, answer: "ok", header: http.Header{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		status, answer := s.status, s.answer
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) respond(status int, answer string, header ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.answer = status, answer
	s.header = http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		s.header.Set(header[i], header[i+1])
	}
}

func (s *sink) last(t *testing.T) []byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) == 0 {
		t.Fatal("the sink received nothing")
	}
	return s.bodies[len(s.bodies)-1]
}

// secretPath is the credential part of the webhook URL: no error may
// contain it.
const secretPath = "/services/T0SECRET/B0SECRET/xoxSECRETSECRET"

func notifier(t *testing.T, s *sink) *slack.Notifier {
	g, err := notify.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return slack.New(s.srv.URL+secretPath, g.Client(5*time.Second))
}

func send(t *testing.T, n *slack.Notifier, m notify.Message) (bool, error) {
	t.Helper()
	retryable, err := n.Notify(context.Background(), m)
	if err != nil && strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error reveals the webhook path: %v", err)
	}
	return retryable, err
}

func TestGolden(t *testing.T) {
	// One file per event: testdata/EVENT.json is the exact body Slack
	// receives, indented. Review the diff after go test -run TestGolden -update.
	s := newSink(t)
	n := notifier(t, s)
	msgs := notifytest.Messages()
	for _, e := range notifytest.Events() {
		m, ok := msgs[e]
		if !ok {
			t.Fatalf("no sample message for %s", e)
		}
		if retryable, err := send(t, n, m); err != nil || retryable {
			t.Fatalf("%s: Notify = %v, %v", e, retryable, err)
		}
		var got bytes.Buffer
		if err := json.Indent(&got, s.last(t), "", "  "); err != nil {
			t.Fatalf("%s: body is not JSON: %v", e, err)
		}
		got.WriteByte('\n')
		checkLimits(t, s.last(t))
		golden := filepath.Join("testdata", string(e)+".json")
		if *update {
			if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("%s: body differs from %s:\n%s", e, golden, got.String())
		}
	}
}

// message is what the tests read back from a payload.
type message struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type     string            `json:"type"`
		Text     *textObject       `json:"text"`
		Fields   []textObject      `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	} `json:"blocks"`
}

type textObject struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim"`
	URL      string `json:"url"`
}

// texts returns every text object of a payload (the fallback as a
// mrkdwn object) and the URLs of its buttons.
func texts(t *testing.T, body []byte) (objs []textObject, urls []string) {
	t.Helper()
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, textObject{Type: "mrkdwn", Text: m.Text, Verbatim: true})
	for _, b := range m.Blocks {
		if b.Text != nil {
			objs = append(objs, *b.Text)
		}
		objs = append(objs, b.Fields...)
		for _, raw := range b.Elements {
			var el struct {
				textObject
				Text json.RawMessage `json:"text"`
			}
			if err := json.Unmarshal(raw, &el); err != nil {
				t.Fatal(err)
			}
			if el.Type == "button" {
				var bt textObject
				json.Unmarshal(el.Text, &bt)
				objs = append(objs, bt)
				urls = append(urls, el.URL)
				continue
			}
			var tx textObject
			json.Unmarshal(raw, &tx)
			objs = append(objs, tx)
		}
	}
	return objs, urls
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// checkLimits holds a payload to Slack's limits.
func checkLimits(t *testing.T, body []byte) {
	t.Helper()
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) > 50 {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	for _, b := range m.Blocks {
		if b.Type == "header" && utf16Len(b.Text.Text) > 150 {
			t.Errorf("header of %d units", utf16Len(b.Text.Text))
		}
		if b.Text != nil && utf16Len(b.Text.Text) > 3000 {
			t.Errorf("section text of %d units", utf16Len(b.Text.Text))
		}
		if len(b.Fields) > 10 {
			t.Errorf("%d fields", len(b.Fields))
		}
		for _, f := range b.Fields {
			if utf16Len(f.Text) > 2000 {
				t.Errorf("field of %d units", utf16Len(f.Text))
			}
		}
	}
}

// Markup this package writes itself: the link to the incident and the
// date token. Anything else between '<' and '>' came from a user.
var ownMarkup = regexp.MustCompile(`<https://quench\.example\.com/incidents/12\|[^<>]*>|<!date\^[0-9]+\^\{date_short_pretty\} \{time\}\|[0-9: -]+UTC>`)

// checkInert fails unless every mrkdwn text object of body holds only
// escaped user text and this package's own markup, and is verbatim.
func checkInert(t *testing.T, body []byte) {
	t.Helper()
	objs, _ := texts(t, body)
	for _, o := range objs {
		if o.Type == "plain_text" {
			if o.Text != "Open incident" {
				t.Errorf("user text in a plain_text object: %q", o.Text)
			}
			continue
		}
		if !o.Verbatim {
			t.Errorf("mrkdwn text without verbatim: %q", o.Text)
		}
		rest := ownMarkup.ReplaceAllString(o.Text, "")
		if i := strings.IndexAny(rest, "<>"); i >= 0 {
			t.Errorf("unescaped %q in %q", rest[i], o.Text)
		}
		for i := strings.IndexByte(rest, '&'); i >= 0; i = strings.IndexByte(rest, '&') {
			if !strings.HasPrefix(rest[i:], "&amp;") && !strings.HasPrefix(rest[i:], "&lt;") && !strings.HasPrefix(rest[i:], "&gt;") {
				t.Errorf("bare '&' in %q", o.Text)
				break
			}
			rest = rest[i+1:]
		}
	}
}

func TestInjectionArrivesInert(t *testing.T) {
	s := newSink(t)
	n := notifier(t, s)
	m := notifytest.Messages()[notify.PhaseChanged]
	m.Incident.Title = "DB down " + notifytest.Hostile
	m.Headline = "#12 moved to mitigated " + notifytest.Hostile
	m.Body = "Body " + notifytest.Hostile + "\n\n[click](https://evil.example/x|y>z) ![img](javascript:alert(1))"
	m.Actor = "mallory " + notifytest.Hostile
	m.Incident.Owner = "owner " + notifytest.Hostile
	m.Incident.Severity = "major " + notifytest.Hostile
	m.Incident.Services = []string{"svc <!channel>", "a&b"}
	m.From, m.To = "active <!here>", "mitigated"
	if _, err := send(t, n, m); err != nil {
		t.Fatal(err)
	}
	body := s.last(t)
	checkInert(t, body)
	checkLimits(t, body)

	objs, urls := texts(t, body)
	var all strings.Builder
	for _, o := range objs {
		all.WriteString(o.Text + "\n")
	}
	// What people see: the text as written.
	for _, want := range []string{"&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;https://evil.example|ok&gt;", "&amp;amp;", "&lt;script&gt;"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("payload lacks %q", want)
		}
	}
	if len(urls) != 1 || urls[0] != "https://quench.example.com/incidents/12" {
		t.Errorf("buttons link to %q", urls)
	}
}

func TestLinksOnlyToSafeURLs(t *testing.T) {
	s := newSink(t)
	n := notifier(t, s)
	for _, tt := range []struct {
		url      string
		link     string // the <url| part of the title, "" for none
		button   string
		isButton bool
	}{
		{url: "https://quench.example.com/incidents/12", link: "<https://quench.example.com/incidents/12|", button: "https://quench.example.com/incidents/12", isButton: true},
		{url: "https://q.example/i?a=1&b=2|x>y", link: "<https://q.example/i?a=1&amp;b=2%7Cx%3Ey|", button: "https://q.example/i?a=1&b=2|x>y", isButton: true},
		{url: "javascript:alert(1)"},
		{url: "JaVaScRiPt:alert(1)"},
		{url: "data:text/html,<script>alert(1)</script>"},
		{url: "//evil.example/x"},
		{url: "/incidents/12"},
		{url: "https://user:pw@evil.example/"},
		{url: "https://evil.example/a b"},
		{url: "https://evil.example/\x00"},
		{url: ""},
	} {
		m := notifytest.Messages()[notify.Opened]
		m.Incident.URL = tt.url
		if _, err := send(t, n, m); err != nil {
			t.Fatal(err)
		}
		objs, urls := texts(t, s.last(t))
		title := objs[1].Text
		if tt.link == "" {
			if !strings.HasPrefix(title, "*#12 ") {
				t.Errorf("%q: title %q is a link", tt.url, title)
			}
		} else if !strings.HasPrefix(title, "*"+tt.link+"#12 ") {
			t.Errorf("%q: title %q, want link %q", tt.url, title, tt.link)
		}
		if tt.isButton != (len(urls) == 1) || (tt.isButton && urls[0] != tt.button) {
			t.Errorf("%q: buttons %q", tt.url, urls)
		}
	}
}

func TestLongTextIsCutToSlackLimits(t *testing.T) {
	s := newSink(t)
	n := notifier(t, s)
	m := notifytest.Messages()[notify.PhaseChanged]
	m.Incident.Title = strings.Repeat("<&> ", 100)
	m.Body = strings.Repeat("a&b<c>d 😀 ", 1000)
	m.Incident.Services = []string{strings.Repeat("svc-&-", 500)}
	if _, err := send(t, n, m); err != nil {
		t.Fatal(err)
	}
	body := s.last(t)
	checkLimits(t, body)
	checkInert(t, body)
	objs, _ := texts(t, body)
	var cut int
	for _, o := range objs {
		if strings.HasSuffix(o.Text, "…") || strings.Contains(o.Text, "…|") || strings.Contains(o.Text, "…>") {
			cut++
		}
	}
	if cut < 3 {
		t.Errorf("%d texts cut, want title, services and body", cut)
	}
}

func TestSlackAnswers(t *testing.T) {
	s := newSink(t)
	n := notifier(t, s)
	m := notifytest.Messages()[notify.Opened]
	for _, tt := range []struct {
		status    int
		answer    string
		header    []string
		retryable bool
		wait      time.Duration
	}{
		{status: 429, answer: "rate_limited", header: []string{"Retry-After", "30"}, retryable: true, wait: 30 * time.Second},
		{status: 500, answer: "rollup_error", retryable: true},
		{status: 503, answer: "", retryable: true},
		{status: 400, answer: "invalid_blocks"},
		{status: 403, answer: "invalid_token"},
		{status: 404, answer: "no_service"},
		{status: 404, answer: "channel_not_found"},
		{status: 410, answer: "channel_is_archived"},
	} {
		s.respond(tt.status, tt.answer, tt.header...)
		retryable, err := send(t, n, m)
		if err == nil {
			t.Errorf("%d %s: no error", tt.status, tt.answer)
			continue
		}
		if retryable != tt.retryable {
			t.Errorf("%d %s: retryable = %v", tt.status, tt.answer, retryable)
		}
		if wait, _ := notify.RetryAfter(err); wait != tt.wait {
			t.Errorf("%d %s: wait %v, want %v", tt.status, tt.answer, wait, tt.wait)
		}
		if !strings.Contains(err.Error(), tt.answer) {
			t.Errorf("%d: error %q does not say %q", tt.status, err, tt.answer)
		}
	}
	s.respond(200, "ok")
	if retryable, err := send(t, n, m); err != nil || retryable {
		t.Errorf("ok: %v, %v", retryable, err)
	}
}

func TestNotifierHidesItsURL(t *testing.T) {
	n := slack.New("https://hooks.slack.com"+secretPath, nil)
	for _, s := range []string{n.String(), fmt.Sprint(n), fmt.Sprintf("%v %+v %#v %s", n, n, n, n)} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("%q reveals the webhook path", s)
		}
	}
}

func TestDefaultClientIsGuarded(t *testing.T) {
	// Without a client of its own, a notifier still refuses private
	// addresses: the sink on loopback is never reached.
	s := newSink(t)
	n := slack.New(s.srv.URL+secretPath, nil)
	retryable, err := send(t, n, notifytest.Messages()[notify.Opened])
	if retryable || err == nil || !strings.Contains(err.Error(), "blocked address") {
		t.Fatalf("Notify = %v, %v; want blocked", retryable, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) != 0 {
		t.Errorf("the sink received %d messages", len(s.bodies))
	}
}
