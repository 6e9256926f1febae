package fault

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// PostgreSQL stopped and started again under load, by crash (immediate)
// and by a clean fast shutdown: while it is down every request answers 503
// with Retry-After and /readyz is not ready; once it is back Quench serves
// again without a restart, and nothing acknowledged is lost. Deliveries
// refused during the outage are accepted when resent, as Alertmanager
// resends them.
func TestPostgresRestart(t *testing.T) {
	pg := privateCluster(t)
	in := setup(t, postgresAt(pg.database(t)))
	s := in.start(t)
	l := newLedger(fmt.Sprintf("pg%d", time.Now().UnixNano()%1e6))
	ctx := context.Background()
	c := newClient(2)
	ready := func() reply { return do(ctx, c, "GET", s.url+"/readyz", "", nil) }

	ld := in.startLoad(l, s, 4, 2)
	modes := []string{"immediate", "fast"}
	if long() {
		modes = append(modes, "immediate", "fast", "immediate", "immediate")
	}
	var recoveries []time.Duration
	for _, mode := range modes {
		time.Sleep(jitter(200*time.Millisecond, 700*time.Millisecond))
		acked := l.acks()
		waitUntil(t, "acknowledgements before the restart", func() bool { return l.acks() > acked })
		if err := pg.stop(mode); err != nil {
			t.Fatal(err)
		}
		refused := l.count(http.StatusServiceUnavailable)
		waitUntil(t, "503s while PostgreSQL is down", func() bool { return l.count(http.StatusServiceUnavailable) >= refused+5 })
		waitUntil(t, "/readyz not ready while PostgreSQL is down", func() bool {
			return ready().status == http.StatusServiceUnavailable
		})
		// Reads too: "unavailable", never "not found" or a 500.
		for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/1", "/api/v1/incidents/1/timeline",
			"/api/v1/incidents/1/updates", "/api/v1/alerts"} {
			r := do(ctx, c, "GET", s.url+path, in.apiToken, nil)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("GET %s while PostgreSQL is down: %d (Retry-After %q) %s, want 503 with Retry-After",
					path, r.status, r.header.Get("Retry-After"), r.body)
			}
		}
		if err := pg.start(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		waitUntil(t, "/readyz ready again", func() bool { return ready().status == http.StatusOK })
		acked = l.acks()
		waitUntil(t, "acknowledgements after the restart", func() bool { return l.acks() > acked })
		recoveries = append(recoveries, time.Since(back))
	}
	noAnswer := l.count(0)
	ld.stop()
	if noAnswer > 0 {
		t.Errorf("%d requests got no answer: Quench must answer 503 while its database is away", noAnswer)
	}
	if s.exited() {
		t.Fatalf("quench serve exited: %v", s.waitErr)
	}
	for _, d := range l.unacked() {
		if r := l.resend(ctx, c, in, s, d); r.status != http.StatusOK {
			t.Errorf("delivery %s resent after the restarts: %d %s", d.id, r.status, r.body)
		}
	}
	in.verify(t, l)
	l.checkUnexpected(t)
	s.checkLog(t)
	var rs []string
	for i, r := range recoveries {
		rs = append(rs, fmt.Sprintf("%s %s", modes[i], r.Round(time.Millisecond)))
	}
	t.Logf("PostgreSQL back to first acknowledgement: %s; %s", strings.Join(rs, ", "), l.summary())
}
