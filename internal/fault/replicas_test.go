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
