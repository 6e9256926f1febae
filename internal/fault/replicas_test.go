package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// liveStream is an open /events stream of one replica, read by a goroutine
// into a list of the changes heard, each with when it arrived. It never
// reconnects by itself: a stream that ends is a finding.
type liveStream struct {
	mu      sync.Mutex
	heard   []heardChange
	ended   bool
	changed chan struct{}
}

type heardChange struct {
	incident int64
	kind     string
	at       time.Time
}

// openLiveStream subscribes to base/events with a read token and returns
// once the stream's opening has arrived: every later change is heard.
func openLiveStream(t *testing.T, base, token string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	// No client timeout: the stream lives as long as the test.
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s/events: %d", base, resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("stream opening %q", line)
	}
	ls := &liveStream{changed: make(chan struct{}, 1)}
	go func() {
		defer resp.Body.Close()
		var data string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ls.mu.Lock()
				ls.ended = true
				ls.mu.Unlock()
				ls.notify()
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && data != "":
				var c struct {
					Incident int64  `json:"incident"`
					Kind     string `json:"kind"`
				}
				if json.Unmarshal([]byte(data), &c) == nil {
					ls.mu.Lock()
					ls.heard = append(ls.heard, heardChange{c.Incident, c.Kind, time.Now()})
					ls.mu.Unlock()
					ls.notify()
				}
				data = ""
			}
		}
	}()
	return ls
}

func (ls *liveStream) notify() {
	select {
	case ls.changed <- struct{}{}:
	default:
	}
}

// wait returns when the stream first heard of a change of kind to
// incident n, or fails the test after a deadline that only catches hangs
// (or when the stream ends).
func (ls *liveStream) wait(t testing.TB, n int64, kind string) time.Time {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		ls.mu.Lock()
		for _, h := range ls.heard {
			if h.incident == n && h.kind == kind {
				ls.mu.Unlock()
				return h.at
			}
		}
		ended := ls.ended
		ls.mu.Unlock()
		if ended {
			t.Fatalf("the live stream ended before it heard %s of #%d", kind, n)
		}
		select {
		case <-ls.changed:
		case <-deadline:
			t.Fatalf("the live stream did not hear %s of #%d within 30s", kind, n)
		}
	}
}

// openIncident opens an incident through a replica's API and returns its
// number and when the answer arrived (0 when it was not acknowledged).
func openIncident(ctx context.Context, c *http.Client, s *server, token, title string) (int64, time.Time, reply) {
	body, _ := json.Marshal(map[string]any{"title": title, "severity": "minor"})
	r := do(ctx, c, "POST", s.url+"/api/v1/incidents", token, body)
	at := time.Now()
	if r.status != http.StatusCreated {
		return 0, at, r
	}
	var inc struct {
		Number int64 `json:"number"`
	}
	json.Unmarshal(r.body, &inc)
	return inc.Number, at, r
}

// Two replicas on one PostgreSQL: a live page on replica B hears of a
// change made on replica A within a second of A acknowledging it (the
// median of five, so one stall of a shared machine does not decide). Then
// PostgreSQL restarts under them, by crash: while it is away B answers 503
// on /readyz and on writes; once it is back both recover on their own,
// and the same stream on B, never reconnected, hears the next change made
// on A.
func TestReplicaLiveUpdates(t *testing.T) {
	pg := privateCluster(t)
	in := setup(t, postgresAt(pg.database(t)))
	a, b := in.start(t), in.start(t)
	ctx := context.Background()
	c := newClient(4)
	live := openLiveStream(t, b.url, in.apiToken)

	var lags []time.Duration
	for i := range 5 {
		n, acked, r := openIncident(ctx, c, a, in.apiToken, fmt.Sprintf("replica change %d", i))
		if n == 0 {
			t.Fatalf("open incident on A: %d %s", r.status, r.body)
		}
		heard := live.wait(t, n, "created")
		lags = append(lags, max(0, heard.Sub(acked)))
	}
	slices.Sort(lags)
	if lags[len(lags)/2] > time.Second {
		t.Errorf("B heard of A's changes after %v (sorted), median over a second", lags)
	}

	if err := pg.stop("immediate"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "/readyz on B not ready while PostgreSQL is down", func() bool {
		return do(ctx, c, "GET", b.url+"/readyz", "", nil).status == http.StatusServiceUnavailable
	})
	if _, _, r := openIncident(ctx, c, b, in.apiToken, "while away"); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("a write on B while PostgreSQL is down: %d (Retry-After %q) %s, want 503 with Retry-After",
			r.status, r.header.Get("Retry-After"), r.body)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*server{a, b} {
		waitUntil(t, "/readyz on "+s.name+" ready again", func() bool {
			return do(ctx, c, "GET", s.url+"/readyz", "", nil).status == http.StatusOK
		})
	}
	// B's stream hears a resync once B listens again: what other
	// replicas announced while it could not listen is lost, so pages look
	// again. From then on it hears every change.
	live.wait(t, 0, "resync")
	// A write on A may meet a pooled connection PostgreSQL's restart
	// broke: that is a 503 the client retries.
	var n int64
	waitUntil(t, "a change on A after the restart", func() bool {
		n, _, _ = openIncident(ctx, c, a, in.apiToken, "after the restart")
		return n != 0
	})
	live.wait(t, n, "created")
	if _, _, r := openIncident(ctx, c, b, in.apiToken, "on B after the restart"); r.status != http.StatusCreated {
		t.Errorf("a write on B after the restart: %d %s", r.status, r.body)
	}
	t.Logf("B heard A's changes after %v (ordered)", lags)
	for _, s := range []*server{a, b} {
		s.checkLog(t)
	}
}

// Three replicas on the private PostgreSQL share the traffic: each gets
// Alertmanager webhooks and an API client walking incidents through their
// phases, and every opened incident is a notification to a webhook
// receiver. One replica is killed with SIGKILL under that load (while the
// receiver holds answers, so sends are in flight). Then: no acknowledged
// alert is lost, no alert group has two incidents, every message in the
// outbox reached the receiver and was answered exactly once, except that
// a key whose request was under way at the kill may have been answered
// once more (the same webhook-id); and a live board on a surviving
// replica heard of every acknowledged change, whichever replica made it,
// the killed one included. The long form (QUENCH_TEST_LONG=1) runs the
// load longer.
func TestReplicasKillUnderLoad(t *testing.T) {
	pg := privateCluster(t)
	in := setup(t, postgresAt(pg.database(t)), "QUENCH_OUTBOUND_ALLOW=127.0.0.1")
	replicas := []*server{in.start(t), in.start(t), in.start(t)}
	victim, board := replicas[0], replicas[1]
	sink := newSlowSink(t, 5*time.Millisecond, 40*time.Millisecond)
	adminToken := strings.TrimSpace(in.cli(t, nil, "token", "create", "--user", "fault", "--scopes", "read,write,admin", "--name", "channels"))
	sink.setSecret(in.addWebhookChannel(t, board, adminToken, sink.url))
	live := openLiveStream(t, board.url, in.apiToken)

	l := newLedger(fmt.Sprintf("repl%d", time.Now().UnixNano()%1e6))
	var loads []*load
	for _, s := range replicas {
		loads = append(loads, in.startLoad(l, s, 2, 1))
	}
	run := pick(2, 20)
	time.Sleep(time.Duration(run)*time.Second + jitter(0, time.Second))
	acked := l.acks()
	sink.hold()
	sink.waitHeld(t)
	killedAt := time.Now()
	victim.kill(t)
	sink.release()
	loads[0].stop()
	time.Sleep(time.Duration(run) * time.Second)
	for _, ld := range loads[1:] {
		ld.stop()
	}
	if l.acks() <= acked {
		t.Errorf("the surviving replicas acknowledged nothing after the kill")
	}
	// What the dead replica left unanswered is resent to a survivor, as
	// Alertmanager resends.
	c := newClient(2)
	for _, d := range l.unacked() {
		if r := l.resend(context.Background(), c, in, replicas[2], d); r.status != http.StatusOK {
			t.Errorf("delivery %s resent to a survivor: %d %s", d.id, r.status, r.body)
		}
	}
	// The dead replica's leases run out (jobs.Lease), then a survivor
	// sends what it held.
	in.waitOutboxEmpty(t, board)
	in.verify(t, l)
	l.checkUnexpected(t)

	// The receiver: every key answered once; twice only for a key whose
	// first request arrived before the kill.
	keys := in.sentKeys(t)
	sink.mu.Lock()
	answered := map[string][]time.Time{}
	for _, r := range sink.reqs {
		if r.bad != "" {
			t.Errorf("request with webhook-id %q does not verify: %s", r.key, r.bad)
		}
		if r.answered {
			answered[r.key] = append(answered[r.key], r.at)
		}
	}
	requests := len(sink.reqs)
	sink.mu.Unlock()
	twice := 0
	for _, k := range keys {
		ats := answered[k]
		delete(answered, k)
		switch {
		case len(ats) == 0:
			t.Errorf("message %s is recorded as sent but the receiver never answered it", k)
		case len(ats) == 2 && ats[0].Before(killedAt):
			twice++
		case len(ats) > 1:
			t.Errorf("message %s was answered %d times (arrivals %v, kill at %v)", k, len(ats), ats, killedAt)
		}
	}
	for k := range answered {
		t.Errorf("the receiver answered webhook-id %q, which is no message in the outbox", k)
	}

	// The board on a survivor heard every acknowledged change.
	heard := map[int64]map[string]int{}
	live.mu.Lock()
	for _, h := range live.heard {
		if heard[h.incident] == nil {
			heard[h.incident] = map[string]int{}
		}
		heard[h.incident][h.kind]++
	}
	ended := live.ended
	live.mu.Unlock()
	if ended {
		t.Error("the board's live stream ended")
	}
	missed := 0
	miss := func(format string, a ...any) {
		if missed++; missed <= 5 {
			t.Errorf("the board did not hear "+format, a...)
		}
	}
	l.mu.Lock()
	updates := map[int64]int{}
	for _, n := range l.updates {
		updates[n]++
	}
	for n, tr := range l.incidents {
		if heard[n]["created"] == 0 {
			miss("#%d opened", n)
		}
		if got := heard[n]["transitioned"]; got < tr.acked {
			miss("#%d move on: %d of %d acknowledged transitions", n, got, tr.acked)
		}
		if got := heard[n]["update_posted"]; got < updates[n] {
			miss("#%d updated: %d of %d acknowledged updates", n, got, updates[n])
		}
	}
	l.mu.Unlock()
	db := in.db.open(t)
	defer db.Close()
	rows, err := db.Query(`SELECT DISTINCT incident_number FROM alerts WHERE incident_number IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		rows.Scan(&n)
		if heard[n]["created"]+heard[n]["alert_attached"] == 0 {
			miss("#%d, opened by alerts", n)
		}
	}
	rows.Close()
	if missed > 0 {
		t.Errorf("the board missed %d change(s)", missed)
	}
	for _, s := range replicas[1:] {
		s.checkLog(t)
	}
	victim.checkLog(t)
	t.Logf("%s; outbox: %d messages, %d requests, %d keys answered twice (in flight at the kill); board heard %d changes",
		l.summary(), len(keys), requests, twice, len(live.heard))
	if l.ackedAlerts == 0 || len(keys) == 0 {
		t.Errorf("the load got nothing acknowledged or sent nothing, so the test proved nothing")
	}
}
