package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
)

// StatusWorld fills st with what the status page benchmark reads:
// components components (two services each, in five groups) and incidents
// published incidents spread over the 90 days before now, most over, a
// few open, each with two public updates and an internal one, and as many
// public incidents nobody published.
func StatusWorld(ctx context.Context, st *store.Store, now time.Time, components, incidents int) error {
	return st.Write(ctx, func(tx *store.Tx) error {
		for i := range components {
			c := &status.Component{Name: fmt.Sprintf("Component %02d", i), Description: "Part of the service customers use",
				Group: fmt.Sprintf("Group %d", i%5), Position: i, Services: []string{fmt.Sprintf("svc-%d", 2*i), fmt.Sprintf("svc-%d", 2*i+1)},
				CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertComponent(ctx, c); err != nil {
				return err
			}
		}
		span := time.Duration(status.HistoryDays-1) * 24 * time.Hour
		for i := range 2 * incidents {
			published := i%2 == 0
			start := now.Add(-span + span/time.Duration(2*incidents)*time.Duration(i))
			inc := &incident.Incident{Title: fmt.Sprintf("team title %d: consumer lag on svc-%d", i, i%(2*components)),
				StatusTitle: fmt.Sprintf("Messages are delayed (%d)", i), Severity: incident.Severities[i%3],
				Services: []string{fmt.Sprintf("svc-%d", (i*7)%(2*components))}, Labels: map[string]string{},
				DetectionSource: incident.SourceAlert, Visibility: incident.Public, Phase: incident.Closed,
				EnteredAt: map[incident.Phase]time.Time{incident.Active: start, incident.Mitigated: start.Add(40 * time.Minute),
					incident.Resolved: start.Add(3 * time.Hour), incident.Closed: start.Add(48 * time.Hour)},
				Notes:     map[incident.Phase]string{incident.Mitigated: "restarted", incident.Resolved: "fixed", incident.Closed: "alerting"},
				CreatedBy: "bench", CreatedAt: start, UpdatedAt: start.Add(48 * time.Hour), OnStatusPage: published, PublishedAt: start}
			if i >= 2*incidents-10 {
				inc.Phase = incident.Active
				delete(inc.EnteredAt, incident.Mitigated)
				delete(inc.EnteredAt, incident.Resolved)
				delete(inc.EnteredAt, incident.Closed)
			}
			n, err := tx.NextIncidentNumber(ctx)
			if err != nil {
				return err
			}
			inc.Number = n
			if err := tx.InsertIncident(ctx, inc); err != nil {
				return err
			}
			for k, vis := range []incident.Visibility{incident.Public, incident.Internal, incident.Public} {
				at := start.Add(time.Duration(k+1) * 10 * time.Minute)
				u := &incident.Update{Incident: n, Author: "bench", Visibility: vis, CreatedAt: at, UpdatedAt: at,
					Body: fmt.Sprintf("Update %d: we **restarted** the consumers and are watching the [queue](https://grafana.example/d/q).", k)}
				if err := tx.InsertUpdate(ctx, u); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// StatusOptions describe a run of conditional requests against a status
// page URL.
type StatusOptions struct {
	URL      string
	Clients  int
	Duration time.Duration
	// Conditional sends the ETag of a first answer in If-None-Match, so
	// every answer is a 304 while the page does not change.
	Conditional bool
}

// StatusResult is what a run measured.
type StatusResult struct {
	Options  StatusOptions
	Requests int
	Errors   int
	Statuses map[int]int
	Bytes    int64
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// PerSecond is the rate of answers.
func (r *StatusResult) PerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Status sends GETs from Clients clients on keep-alive connections for
// Duration.
func Status(ctx context.Context, opt StatusOptions) (*StatusResult, error) {
	if opt.Clients <= 0 || opt.Duration <= 0 {
		return nil, fmt.Errorf("clients and duration must be positive")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: opt.Clients, DisableCompression: true}}
	etag := ""
	if opt.Conditional {
		resp, err := client.Get(opt.URL)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if etag = resp.Header.Get("ETag"); resp.StatusCode != http.StatusOK || etag == "" {
			return nil, fmt.Errorf("GET %s: %d, ETag %q", opt.URL, resp.StatusCode, etag)
		}
	}
	res := &StatusResult{Options: opt}
	l := hammer(ctx, opt.Clients, opt.Duration, func(ctx context.Context) (int, int64, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", opt.URL, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, n, err
	})
	res.Requests, res.Errors, res.Statuses, res.Bytes, res.Elapsed, res.P50, res.P99 = len(l.latencies), l.errors, l.statuses, l.bytes,
		l.elapsed, l.quantile(50), l.quantile(99)
	return res, nil
}

// load is what hammer measured.
type load struct {
	latencies []time.Duration // sorted
	statuses  map[int]int
	errors    int
	bytes     int64
	elapsed   time.Duration
}

func (l *load) quantile(q int) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	return l.latencies[min(len(l.latencies)-1, len(l.latencies)*q/100)]
}

// hammer calls one from clients goroutines, each as soon as its last call
// returned, until duration has passed; calls cut off by the end are not
// counted.
func hammer(ctx context.Context, clients int, duration time.Duration, one func(context.Context) (status int, bytes int64, err error)) *load {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	l := &load{statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			mine := &load{statuses: map[int]int{}}
			for ctx.Err() == nil {
				t0 := time.Now()
				status, n, err := one(ctx)
				if ctx.Err() != nil {
					break
				}
				mine.latencies = append(mine.latencies, time.Since(t0))
				mine.bytes += n
				if err != nil {
					mine.errors++
					continue
				}
				mine.statuses[status]++
			}
			mu.Lock()
			defer mu.Unlock()
			l.latencies = append(l.latencies, mine.latencies...)
			for k, v := range mine.statuses {
				l.statuses[k] += v
			}
			l.errors += mine.errors
			l.bytes += mine.bytes
		})
	}
	wg.Wait()
	l.elapsed = time.Since(start)
	slices.Sort(l.latencies)
	return l
}
