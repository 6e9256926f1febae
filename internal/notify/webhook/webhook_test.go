package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/notify/notifytest"
	"github.com/quenchhq/quench/internal/notify/webhook"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the current output")

// The test vector published with the specification's reference libraries
// (standard-webhooks/standard-webhooks, libraries/*/tests).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeader() http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", fmt.Sprint(vectorTimestamp))
	h.Set("webhook-signature", vectorSignature)
	return h
}

func TestSignKnownVector(t *testing.T) {
	got, err := webhook.Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
	if err := webhook.Verify(vectorSecret, vectorHeader(), []byte(vectorBody), time.Unix(vectorTimestamp, 0), 0); err != nil {
		t.Fatalf("Verify of the vector: %v", err)
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	now := time.Unix(vectorTimestamp, 0)
	body := []byte(vectorBody)
	other := webhook.NewSecret()
	tests := []struct {
		name   string
		secret string
		edit   func(h http.Header)
		body   []byte
		now    time.Time
		want   error
	}{
		{name: "one byte of the body", body: []byte(`{"test": 2432232315}`), want: webhook.ErrSignature},
		{name: "body re-encoded", body: []byte(`{"test":2432232314}`), want: webhook.ErrSignature},
		{name: "empty body", body: []byte{}, want: webhook.ErrSignature},
		{name: "other id", edit: func(h http.Header) { h.Set("webhook-id", "msg_other") }, want: webhook.ErrSignature},
		{name: "other timestamp", edit: func(h http.Header) { h.Set("webhook-timestamp", fmt.Sprint(vectorTimestamp+1)) }, want: webhook.ErrSignature},
		{name: "other secret", secret: other, want: webhook.ErrSignature},
		{name: "flipped signature bit", edit: func(h http.Header) {
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSignature, "v1,"))
			sig[0] ^= 1
			h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(sig))
		}, want: webhook.ErrSignature},
		{name: "other scheme", edit: func(h http.Header) { h.Set("webhook-signature", strings.Replace(vectorSignature, "v1,", "v1a,", 1)) }, want: webhook.ErrSignature},
		{name: "no scheme", edit: func(h http.Header) { h.Set("webhook-signature", strings.TrimPrefix(vectorSignature, "v1,")) }, want: webhook.ErrSignature},
		{name: "bad base64", edit: func(h http.Header) { h.Set("webhook-signature", "v1,!!!") }, want: webhook.ErrSignature},
		{name: "no id", edit: func(h http.Header) { h.Del("webhook-id") }, want: webhook.ErrMissingHeaders},
		{name: "no timestamp", edit: func(h http.Header) { h.Del("webhook-timestamp") }, want: webhook.ErrMissingHeaders},
		{name: "no signature", edit: func(h http.Header) { h.Del("webhook-signature") }, want: webhook.ErrMissingHeaders},
		{name: "timestamp not a number", edit: func(h http.Header) { h.Set("webhook-timestamp", "yesterday") }, want: webhook.ErrTimestamp},
		{name: "replayed 6 minutes later", now: now.Add(6 * time.Minute), want: webhook.ErrTimestamp},
		{name: "from 6 minutes ahead", now: now.Add(-6 * time.Minute), want: webhook.ErrTimestamp},
		{name: "secret without prefix", secret: strings.TrimPrefix(vectorSecret, "whsec_"), want: webhook.ErrSecret},
	}
	for _, tt := range tests {
		h := vectorHeader()
		if tt.edit != nil {
			tt.edit(h)
		}
		secret, b, at := vectorSecret, body, now
		if tt.secret != "" {
			secret = tt.secret
		}
		if tt.body != nil {
			b = tt.body
		}
		if !tt.now.IsZero() {
			at = tt.now
		}
		err := webhook.Verify(secret, h, b, at, 5*time.Minute)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
			t.Errorf("%s: error reveals the secret: %v", tt.name, err)
		}
	}
}

func TestVerifyAcceptsRotation(t *testing.T) {
	// While a secret is rotated the header carries several signatures;
	// one match is enough, in any position.
	now := time.Unix(vectorTimestamp, 0)
	h := vectorHeader()
	h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,AAAA "+vectorSignature+" v2,xyz")
	if err := webhook.Verify(vectorSecret, h, []byte(vectorBody), now, 0); err != nil {
		t.Fatal(err)
	}
	// Within the tolerance either way.
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute} {
		if err := webhook.Verify(vectorSecret, vectorHeader(), []byte(vectorBody), now.Add(d), 5*time.Minute); err != nil {
			t.Errorf("%v off: %v", d, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("NewSecret = %q, %q", a, b)
	}
	key, err := webhook.ParseSecret(a)
	if err != nil || len(key) != 32 {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v", len(key), err)
	}
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	for _, ok := range []string{
		vectorSecret,
		"whsec_" + enc(24),
		"whsec_" + enc(64),
		"whsec_" + strings.TrimRight(enc(25), "="),
		" whsec_" + enc(32) + "\n",
	} {
		if _, err := webhook.ParseSecret(ok); err != nil {
			t.Errorf("ParseSecret(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"whsec_",
		enc(32),
		"WHSEC_" + enc(32),
		"whsec_" + enc(23),
		"whsec_" + enc(65),
		"whsec_" + enc(32)[:10] + "*" + enc(32)[11:],
		"whsk_" + enc(32),
	} {
		_, err := webhook.ParseSecret(bad)
		if !errors.Is(err, webhook.ErrSecret) {
			t.Errorf("ParseSecret(%q) = %v", bad, err)
		}
		if _, err := webhook.New("https://example.com/hook", bad, nil); err == nil {
			t.Errorf("New accepted secret %q", bad)
		} else if len(bad) > 8 && strings.Contains(err.Error(), bad[6:]) {
			t.Errorf("error reveals the secret: %v", err)
		}
	}
}

// receiver is an endpoint on loopback that verifies what it receives the
// way a receiver should, and answers what the test chose.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []delivery
	status []int // answers, in order; 200 once used up
}

type delivery struct {
	header http.Header
	body   []byte
	err    error // what Verify said
}

func newReceiver(t *testing.T, secret string, now func() time.Time) *receiver {
	r := &receiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		err := webhook.Verify(r.secret, req.Header, body, now(), 5*time.Minute)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body, err})
		status := http.StatusNoContent
		if len(r.status) > 0 {
			status, r.status = r.status[0], r.status[1:]
		}
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "12")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery{}, r.got...)
}

const secretPath = "/hooks/PATHSECRET"

func newNotifier(t *testing.T, r *receiver, now func() time.Time) *webhook.Notifier {
	t.Helper()
	g, err := notify.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := webhook.New(r.srv.URL+secretPath, r.secret, g.Client(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	webhook.SetClock(n, now)
	return n
}

func send(t *testing.T, n *webhook.Notifier, secret string, m notify.Message) (bool, error) {
	t.Helper()
	retryable, err := n.Notify(context.Background(), m)
	if err != nil {
		key, _ := webhook.ParseSecret(secret)
		for _, s := range []string{"PATHSECRET", secret, strings.TrimPrefix(secret, "whsec_"), string(key)} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error reveals %q: %v", s, err)
			}
		}
	}
	return retryable, err
}

func TestDeliveryIsSignedAndVerifies(t *testing.T) {
	attempt := notifytest.At.Add(3 * time.Second)
	clock := func() time.Time { return attempt }
	secret := webhook.NewSecret()
	r := newReceiver(t, secret, clock)
	n := newNotifier(t, r, clock)
	m := notifytest.Messages()[notify.PhaseChanged]
	if retryable, err := send(t, n, secret, m); err != nil || retryable {
		t.Fatalf("Notify = %v, %v", retryable, err)
	}
	got := r.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	d := got[0]
	if d.err != nil {
		t.Fatalf("Verify at the receiver: %v", d.err)
	}
	if d.header.Get("webhook-id") != m.ID || d.header.Get("webhook-timestamp") != fmt.Sprint(attempt.Unix()) {
		t.Errorf("headers %v", d.header)
	}
	if !regexp.MustCompile(`^v1,[A-Za-z0-9+/]{43}=$`).MatchString(d.header.Get("webhook-signature")) {
		t.Errorf("webhook-signature %q", d.header.Get("webhook-signature"))
	}
	if d.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", d.header.Get("Content-Type"))
	}
	var p webhook.Payload
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	want := webhook.Payload{
		Type:      notify.PhaseChanged,
		Timestamp: notifytest.At,
		Data: webhook.Data{
			Version: 1, ID: m.ID,
			Incident: webhook.Incident{
				Number: 12, Title: "Checkout p99 latency high", Phase: "mitigated", Severity: "major",
				Services: []string{"checkout", "payments"}, Visibility: "public", Owner: "bob",
				URL: "https://quench.example.com/incidents/12", CreatedAt: notifytest.At.Add(-time.Hour),
			},
			Headline: "#12 moved to mitigated",
			Body:     m.Body,
			BodyText: "Rolled back to v1.41 (MR 812 (https://git.example.com/shop/-/merge_requests/812)).\n\n- error rate back to 0.1 %\n- p99 at 300 ms",
			From:     "active", To: "mitigated", Actor: "alice",
		},
	}
	gotJSON, _ := json.Marshal(p)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("payload\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

func TestRetryKeepsIDAndBody(t *testing.T) {
	// At least once: the first attempt meets a 503, the second succeeds.
	// Same id and body, a new timestamp and so a new signature; both
	// verify, so the receiver can dedupe on webhook-id.
	attempt := notifytest.At
	clock := func() time.Time { return attempt }
	secret := webhook.NewSecret()
	r := newReceiver(t, secret, clock)
	r.status = []int{http.StatusServiceUnavailable}
	n := newNotifier(t, r, clock)
	m := notifytest.Messages()[notify.Opened]

	retryable, err := send(t, n, secret, m)
	if !retryable || err == nil {
		t.Fatalf("first attempt = %v, %v; want retryable", retryable, err)
	}
	attempt = attempt.Add(8 * time.Second)
	if retryable, err := send(t, n, secret, m); err != nil || retryable {
		t.Fatalf("second attempt = %v, %v", retryable, err)
	}
	got := r.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries", len(got))
	}
	a, b := got[0], got[1]
	if a.err != nil || b.err != nil {
		t.Fatalf("Verify: %v, %v", a.err, b.err)
	}
	if a.header.Get("webhook-id") != b.header.Get("webhook-id") || !bytes.Equal(a.body, b.body) {
		t.Error("the retry changed the id or the body")
	}
	if a.header.Get("webhook-timestamp") == b.header.Get("webhook-timestamp") || a.header.Get("webhook-signature") == b.header.Get("webhook-signature") {
		t.Error("the retry kept the attempt's timestamp or signature")
	}
}

func TestReceiverWithOtherSecretRefuses(t *testing.T) {
	clock := func() time.Time { return notifytest.At }
	r := newReceiver(t, webhook.NewSecret(), clock)
	n, err := webhook.New(r.srv.URL, webhook.NewSecret(), mustGuard(t).Client(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	webhook.SetClock(n, clock)
	n.Notify(context.Background(), notifytest.Messages()[notify.Opened])
	if got := r.deliveries(); len(got) != 1 || !errors.Is(got[0].err, webhook.ErrSignature) {
		t.Fatalf("deliveries %+v", got)
	}
}

func mustGuard(t *testing.T) *notify.Guard {
	g, err := notify.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestReceiverAnswers(t *testing.T) {
	clock := func() time.Time { return notifytest.At }
	secret := webhook.NewSecret()
	r := newReceiver(t, secret, clock)
	n := newNotifier(t, r, clock)
	m := notifytest.Messages()[notify.Opened]
	for _, tt := range []struct {
		status    int
		retryable bool
		wait      time.Duration
	}{
		{status: 200}, {status: 202}, {status: 204},
		{status: 301}, {status: 400}, {status: 401}, {status: 404}, {status: 410}, {status: 422},
		{status: 408, retryable: true},
		{status: 429, retryable: true, wait: 12 * time.Second},
		{status: 500, retryable: true}, {status: 502, retryable: true}, {status: 503, retryable: true}, {status: 504, retryable: true},
	} {
		r.mu.Lock()
		r.status = []int{tt.status}
		r.mu.Unlock()
		retryable, err := send(t, n, secret, m)
		if (err == nil) != (tt.status < 300) || retryable != tt.retryable {
			t.Errorf("%d: Notify = %v, %v", tt.status, retryable, err)
		}
		if wait, _ := notify.RetryAfter(err); wait != tt.wait {
			t.Errorf("%d: wait %v, want %v", tt.status, wait, tt.wait)
		}
	}
}

func TestUnreachableReceiverIsRetriedAndRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + secretPath
	l.Close()
	secret := webhook.NewSecret()
	n, err := webhook.New(url, secret, mustGuard(t).Client(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	retryable, err := send(t, n, secret, notifytest.Messages()[notify.Opened])
	if !retryable || err == nil {
		t.Fatalf("Notify = %v, %v; want retryable", retryable, err)
	}
	for _, s := range []string{n.String(), fmt.Sprintf("%v %+v %#v", n, n, n)} {
		if strings.Contains(s, "PATHSECRET") || strings.Contains(s, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%q reveals a secret", s)
		}
	}
}

func TestMessageIDMustBeAWebhookID(t *testing.T) {
	clock := func() time.Time { return notifytest.At }
	secret := webhook.NewSecret()
	r := newReceiver(t, secret, clock)
	n := newNotifier(t, r, clock)
	for _, id := range []string{"", "msg.1", "msg 1", "msg,1", "msg\r\nX-Evil: 1", "mség", strings.Repeat("a", 256)} {
		m := notifytest.Messages()[notify.Opened]
		m.ID = id
		if retryable, err := send(t, n, secret, m); err == nil || retryable {
			t.Errorf("ID %q: Notify = %v, %v", id, retryable, err)
		}
	}
	if got := r.deliveries(); len(got) != 0 {
		t.Errorf("%d deliveries", len(got))
	}
}

func TestDefaultClientIsGuarded(t *testing.T) {
	clock := func() time.Time { return notifytest.At }
	secret := webhook.NewSecret()
	r := newReceiver(t, secret, clock)
	n, err := webhook.New(r.srv.URL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	retryable, err := n.Notify(context.Background(), notifytest.Messages()[notify.Opened])
	if retryable || !errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("Notify = %v, %v; want ErrBlocked", retryable, err)
	}
	if got := r.deliveries(); len(got) != 0 {
		t.Errorf("%d deliveries", len(got))
	}
}

func TestGolden(t *testing.T) {
	// testdata/EVENT.json is the body sent for the sample message of each
	// event, indented. Review the diff after go test -run TestGolden -update.
	msgs := notifytest.Messages()
	for _, e := range notifytest.Events() {
		body, err := webhook.Encode(msgs[e])
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		json.Indent(&got, body, "", "  ")
		got.WriteByte('\n')
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

func TestDocumentedExampleIsWhatWeSend(t *testing.T) {
	// docs/webhooks.md shows the phase_changed sample; it must stay the
	// body Quench sends.
	doc, err := os.ReadFile("../../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(\\{\n  \"type\": \"incident.phase_changed\".*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/webhooks.md has no incident.phase_changed example")
	}
	var documented bytes.Buffer
	if err := json.Compact(&documented, m[1]); err != nil {
		t.Fatalf("documented example is not JSON: %v", err)
	}
	sent, err := webhook.Encode(notifytest.Messages()[notify.PhaseChanged])
	if err != nil {
		t.Fatal(err)
	}
	if documented.String() != string(sent) {
		t.Errorf("docs/webhooks.md example\n%s\ndiffers from what Quench sends\n%s", documented.String(), sent)
	}

	// The documented request headers sign that body under the
	// documented example secret.
	h := http.Header{}
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		v := regexp.MustCompile(`(?m)^` + name + `: (\S+)$`).FindSubmatch(doc)
		if v == nil {
			t.Fatalf("docs/webhooks.md shows no %s header", name)
		}
		h.Set(name, string(v[1]))
	}
	ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err := webhook.Verify(vectorSecret, h, sent, time.Unix(ts, 0), 0); err != nil {
		t.Errorf("documented request headers: %v", err)
	}
}

func TestHostileTextIsJustData(t *testing.T) {
	// JSON carries any text; the receiver must escape it for its own
	// medium. What we promise: valid JSON, the text unchanged.
	m := notifytest.Messages()[notify.PhaseChanged]
	m.Incident.Title = notifytest.Hostile + "\r\n\x00\u2028"
	body, err := webhook.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Data.Incident.Title != m.Incident.Title {
		t.Errorf("title %q", p.Data.Incident.Title)
	}
	if bytes.ContainsAny(body, "<>\r\n\x00") {
		t.Errorf("raw markup or control characters in the body: %s", body)
	}
}
