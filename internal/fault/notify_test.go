package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify/webhook"
)

// kill -9 while the outbox is sending to a slow webhook receiver, restart:
// every message is delivered at least once, and a key arrives more than
// once only because a process died with that key's attempt in flight: at
// most once per process, at most 1 + (kills that found the key sent but
// not recorded as sent) times in all. Every request carries the key as
// webhook-id and verifies with the channel's secret.
//
// Which process sent a request is known exactly: after each kill the
// receiver accepts a probe connection (the accept queue is first in, first
// out, so every connection the dead process opened was accepted before it)
// and waits for all of them to close before the next process starts. What
// "in flight at the kill" means is read from the database while no server
// runs: the key was received from the killed process and its row is not
// sent. Every kill lands while at least one request is held at the
// receiver, unanswered, so each kill has a key in flight.
//
// On PostgreSQL a killed process's leases run out after 15 s (jobs.Lease)
// before another process may send those keys; the rounds go on meanwhile
// and only the final drain waits for them. SQLite releases leases at start.
// 8 kills on SQLite and 2 on PostgreSQL; 50 and 20 in the long form.
func TestKillWhileSending(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		kills := pick(8, 50)
		if db.dialect == "postgres" {
			kills = pick(2, 20)
		}
		in := setup(t, db, "QUENCH_OUTBOUND_ALLOW=127.0.0.1")
		sink := newSlowSink(t, 30*time.Millisecond, 120*time.Millisecond)
		adminToken := strings.TrimSpace(in.cli(t, nil, "token", "create", "--user", "fault", "--scopes", "read,write,admin", "--name", "channels"))

		// killedWith[epoch] lists the keys the process of that epoch sent
		// that were not recorded as sent when it died.
		killedWith := map[int]map[string]bool{}
		var opened atomic.Int64
		client := newClient(4)
		defer client.CloseIdleConnections()
		for round := 1; round <= kills; round++ {
			s := in.start(t)
			if round == 1 {
				sink.setSecret(in.addWebhookChannel(t, s, adminToken, sink.url))
			}
			// Two clients open incidents, about as fast as the outbox sends
			// to the slow receiver, until at a random moment the receiver
			// stops answering and the process is killed with requests held
			// there.
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for ctx.Err() == nil {
						body, _ := json.Marshal(map[string]any{"title": fmt.Sprintf("kill while sending, round %d", round), "severity": "minor"})
						if r := do(ctx, client, "POST", s.url+"/api/v1/incidents", in.apiToken, body); r.status == http.StatusCreated {
							opened.Add(1)
						}
						pause(ctx)
					}
				})
			}
			time.Sleep(jitter(20*time.Millisecond, 800*time.Millisecond))
			sink.hold()
			sink.waitHeld(t)
			s.kill(t)
			cancel()
			wg.Wait()
			epoch := sink.drain(t)
			sink.release()
			s.checkLog(t)
			killedWith[epoch] = in.unsent(t, sink.keysOf(epoch))
		}
		s := in.start(t)
		in.waitOutboxEmpty(t, s)
		s.kill(t)
		sink.drain(t)
		s.checkLog(t)
		keys := in.sentKeys(t)
		if int64(len(keys)) < opened.Load() {
			t.Errorf("%d incidents were opened but the outbox holds %d messages", opened.Load(), len(keys))
		}
		t.Logf("%d kills, %d incidents opened: %s", kills, opened.Load(), sink.check(t, keys, killedWith))
		if opened.Load() == 0 {
			t.Error("no incident was opened, so the test proved nothing")
		}
	})
}

// addWebhookChannel adds the webhook channel with the CLI, as an operator
// does, and returns its signing secret.
func (in *instance) addWebhookChannel(t *testing.T, s *server, token, url string) string {
	t.Helper()
	cmd := exec.Command(binary(t), "channel", "add", "--type", "webhook", "--name", "receiver", "--audience", "team",
		"--url", url, "--events", "incident.opened")
	cmd.Env = append(append([]string{}, in.env...), "QUENCH_URL="+s.url, "QUENCH_TOKEN="+token, "QUENCH_LOG_LEVEL=warn")
	cmd.Dir = in.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quench channel add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`signing secret: (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("quench channel add printed no secret:\n%s", out)
	}
	return string(m[1])
}

// waitOutboxEmpty waits until the API lists no pending or failing message.
func (in *instance) waitOutboxEmpty(t *testing.T, s *server) {
	t.Helper()
	c := newClient(1)
	defer c.CloseIdleConnections()
	// On PostgreSQL the last kill's leases run for 15 s first.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := do(context.Background(), c, "GET", s.url+"/api/v1/deliveries?state=pending,failing&limit=500", in.apiToken, nil)
		var page struct {
			Deliveries []struct {
				Key       string `json:"key"`
				State     string `json:"state"`
				LastError string `json:"last_error"`
			} `json:"deliveries"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
			t.Fatalf("GET /api/v1/deliveries: %d %s %v", r.status, r.body, r.err)
		}
		if len(page.Deliveries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d message(s) still unsent, the first: %+v", len(page.Deliveries), page.Deliveries[0])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unsent returns which of keys are not recorded as sent. No server runs.
func (in *instance) unsent(t *testing.T, keys []string) map[string]bool {
	t.Helper()
	states := in.outboxStates(t)
	out := map[string]bool{}
	for _, k := range keys {
		st, ok := states[k]
		if !ok {
			t.Errorf("the receiver got webhook-id %s, which is no message in the outbox", k)
		}
		if st != "sent" {
			out[k] = true
		}
	}
	return out
}

// sentKeys checks that every message in the outbox was sent and returns
// their keys.
func (in *instance) sentKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for k, st := range in.outboxStates(t) {
		if st != "sent" {
			t.Errorf("message %s ended %s, want sent", k, st)
		}
		keys = append(keys, k)
	}
	return keys
}

func (in *instance) outboxStates(t *testing.T) map[string]string {
	t.Helper()
	db := in.db.open(t)
	defer db.Close()
	rows, err := db.Query(`SELECT key, state FROM outbox WHERE channel_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, st string
		if err := rows.Scan(&k, &st); err != nil {
			t.Fatal(err)
		}
		out[k] = st
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// slowSink is a webhook receiver on loopback that answers 200 after a
// random delay, or holds its answers while the test kills the sender. It
// records every request with the epoch of its connection: the number of
// drains before the connection was accepted, which is the number of the
// server process that opened it.
type slowSink struct {
	url        string
	lo, hi     time.Duration
	secret     string // set once the channel exists, before any request
	srv        *http.Server
	listenAddr string

	mu    sync.Mutex
	epoch int
	open  map[net.Conn]bool
	seen  map[string]bool // remote addresses accepted
	gate  chan struct{}   // non-nil while answers are held
	held  int
	reqs  []sinkRequest
}

type epochKey struct{}

// sinkRequest is one request the receiver got.
type sinkRequest struct {
	key   string
	epoch int
	at    time.Time // when it arrived
	// answered: the 200 was written; dropped: the sender went away first.
	answered, dropped bool
	bad               string // why it does not verify, "" when it does
}

func newSlowSink(t *testing.T, lo, hi time.Duration) *slowSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &slowSink{lo: lo, hi: hi, listenAddr: ln.Addr().String(), open: map[net.Conn]bool{}, seen: map[string]bool{}}
	s.url = "http://" + s.listenAddr + "/hook"
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.handle),
		ReadHeaderTimeout: 30 * time.Second,
		// Both run in the accept loop, in the order connections are
		// accepted.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			s.mu.Lock()
			defer s.mu.Unlock()
			return context.WithValue(ctx, epochKey{}, s.epoch)
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.open[c] = true
				s.seen[c.RemoteAddr().String()] = true
			case http.StateClosed, http.StateHijacked:
				delete(s.open, c)
			}
		},
	}
	go s.srv.Serve(ln)
	t.Cleanup(func() {
		s.release()
		s.srv.Close()
	})
	return s
}

func (s *slowSink) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	rec := sinkRequest{key: r.Header.Get(webhook.HeaderID), epoch: r.Context().Value(epochKey{}).(int), at: time.Now()}
	var p webhook.Payload
	switch {
	case err != nil:
		rec.bad = "body cut off: " + err.Error()
	case r.Method != http.MethodPost || r.URL.Path != "/hook":
		rec.bad = "request " + r.Method + " " + r.URL.Path
	default:
		s.mu.Lock()
		secret := s.secret
		s.mu.Unlock()
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			rec.bad = err.Error()
		} else if err := json.Unmarshal(body, &p); err != nil || p.Data.ID != rec.key {
			rec.bad = fmt.Sprintf("body id %q differs from webhook-id (%v)", p.Data.ID, err)
		}
	}
	if rec.bad != "" {
		s.add(rec)
		http.Error(w, rec.bad, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	select {
	case <-time.After(jitter(s.lo, s.hi)):
	case <-ctx.Done():
	}
	s.mu.Lock()
	gate := s.gate
	if gate != nil {
		s.held++
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
	}
	if ctx.Err() != nil {
		rec.dropped = true
	} else {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "ok\n")
		rec.answered = true
	}
	s.add(rec)
}

func (s *slowSink) setSecret(secret string) {
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
}

func (s *slowSink) add(r sinkRequest) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// hold makes every request that is not yet answered wait for release.
func (s *slowSink) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

func (s *slowSink) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// waitHeld waits until at least one request is held unanswered.
func (s *slowSink) waitHeld(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		n := s.held
		s.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no webhook request arrived within a minute")
		}
		time.Sleep(time.Millisecond)
	}
}

// drain runs once the sending process is dead: it waits until every
// connection that process opened has been accepted and closed, then
// starts the next epoch. It returns the epoch that ended.
func (s *slowSink) drain(t *testing.T) int {
	t.Helper()
	probe, err := net.Dial("tcp", s.listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.LocalAddr().String()
	deadline := time.Now().Add(exitDeadline)
	for accepted := false; !accepted; {
		s.mu.Lock()
		accepted = s.seen[addr]
		s.mu.Unlock()
		if !accepted && time.Now().After(deadline) {
			t.Fatal("the receiver did not accept a probe connection")
		}
		time.Sleep(time.Millisecond)
	}
	probe.Close()
	for {
		s.mu.Lock()
		n := len(s.open)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connection(s) to the receiver still open after the sender died", n)
		}
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return s.epoch - 1
}

// keysOf lists the keys received from the process of epoch.
func (s *slowSink) keysOf(epoch int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if r.epoch == epoch && r.key != "" {
			out = append(out, r.key)
		}
	}
	return out
}

// check compares what the receiver got with the messages the outbox sent
// (keys) and the keys each killed process left unrecorded (killedWith),
// and returns a summary.
func (s *slowSink) check(t *testing.T, keys []string, killedWith map[int]map[string]bool) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	byKey := map[string][]sinkRequest{}
	dropped, bad := 0, 0
	for _, r := range s.reqs {
		if r.bad != "" {
			if bad++; bad <= 5 {
				t.Errorf("request with webhook-id %q does not verify: %s", r.key, r.bad)
			}
			continue
		}
		if r.dropped {
			dropped++
		}
		byKey[r.key] = append(byKey[r.key], r)
	}
	lost, extra, twice := 0, 0, 0
	inFlight := 0
	for _, m := range killedWith {
		inFlight += len(m)
	}
	for _, k := range keys {
		reqs := byKey[k]
		delete(byKey, k)
		if len(reqs) == 0 {
			if lost++; lost <= 5 {
				t.Errorf("message %s is recorded as sent but never reached the receiver", k)
			}
			continue
		}
		// One process sends a key at most once (the receiver always
		// answers 200 well within the attempt timeout), and a process that
		// died with the key sent but unrecorded explains one more.
		allowed := 1
		var epochs []int
		for _, r := range reqs {
			if slices.Contains(epochs, r.epoch) {
				t.Errorf("message %s reached the receiver twice from the process of epoch %d", k, r.epoch)
			}
			epochs = append(epochs, r.epoch)
			if killedWith[r.epoch][k] {
				allowed++
			}
		}
		if len(reqs) > 1 {
			extra += len(reqs) - 1
			twice++
		}
		if len(reqs) > allowed {
			t.Errorf("message %s reached the receiver %d times (epochs %v), but only %d kill(s) found it in flight",
				k, len(reqs), epochs, allowed-1)
		}
	}
	for k, reqs := range byKey {
		t.Errorf("the receiver got %d request(s) with webhook-id %q, which is no message in the outbox", len(reqs), k)
	}
	if inFlight < len(killedWith) {
		t.Errorf("only %d key(s) were in flight over %d kills; every kill should have found at least one", inFlight, len(killedWith))
	}
	return fmt.Sprintf("%d messages, %d requests (%d cut off by a kill); %d keys in flight at the kills, %d keys delivered more than once, %d extra deliveries",
		len(keys), len(s.reqs), dropped, inFlight, twice, extra)
}
