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
	ctx, cancel := context.WithTimeout(ctx, opt.Duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[int]int{}
		errs      int
		bytes     int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range opt.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			local, failed, read := map[int]int{}, 0, int64(0)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", opt.URL, nil)
				if etag != "" {
					req.Header.Set("If-None-Match", etag)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					read += n
				}
				if ctx.Err() != nil {
					break // cut off by the end of the run: not a result
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					failed++
					continue
				}
				local[resp.StatusCode]++
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			for k, v := range local {
				statuses[k] += v
			}
			errs += failed
			bytes += read
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := &StatusResult{Options: opt, Requests: len(latencies), Errors: errs, Statuses: statuses, Bytes: bytes, Elapsed: time.Since(start)}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		res.P50, res.P99 = latencies[n/2], latencies[min(n-1, n*99/100)]
	}
	return res, nil
}
