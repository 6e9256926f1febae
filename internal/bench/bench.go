// Package bench generates alert load against an intake endpoint and
// measures it: accepted alerts per second and request latency. It drives
// Quench's Alertmanager intake, and Alertmanager's own /api/v2/alerts for a
// figure from the same machine in the same run.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Target formats.
const (
	// FormatWebhook posts Alertmanager webhook (version 4) bodies, as
	// Alertmanager sends them to Quench.
	FormatWebhook = "webhook"
	// FormatAlertmanagerAPI posts to Alertmanager's /api/v2/alerts, as
	// Prometheus does.
	FormatAlertmanagerAPI = "alertmanager-api"
)

// Scenarios: what the alerts of a run are.
const (
	// ScenarioInbox sends warnings, each request a group of its own:
	// every alert is a new row in the inbox (the default rules page only
	// for critical alerts).
	ScenarioInbox = "inbox"
	// ScenarioStorm sends critical alerts of one group: the first request,
	// before the clock starts, opens an incident, and every alert after it
	// is new and joins that incident, as in an outage where everything
	// fires at once.
	ScenarioStorm = "storm"
)

// Options describe one load run.
type Options struct {
	URL string
	// URLs, when set, spreads the senders over several replicas of one
	// installation, round robin: sender i posts to URLs[i%len(URLs)].
	URLs     []string
	Token    string
	Format   string
	Senders  int
	Batch    int
	Duration time.Duration
	// Requests, when positive, ends the run after this many requests;
	// Duration may then be zero (no time limit).
	Requests int
	// Run distinguishes label sets between runs against one server.
	Run string
	// Scenario is ScenarioInbox (the default) or ScenarioStorm.
	Scenario string
}

// Result is what one run measured.
type Result struct {
	Options  Options
	Requests int
	Alerts   int
	Failed   int
	Statuses map[int]int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
}

// AlertsPerSecond is the accepted alert rate.
func (r *Result) AlertsPerSecond() float64 { return float64(r.Alerts) / r.Elapsed.Seconds() }

// Run sends as fast as Senders concurrent clients can for Duration, each
// request carrying Batch alerts with label sets never sent before, so every
// alert is new work for the receiver.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Senders <= 0 || opt.Batch <= 0 || opt.Duration < 0 || (opt.Duration == 0 && opt.Requests <= 0) {
		return nil, fmt.Errorf("senders, batch and duration (or requests) must be positive")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: opt.Senders * 2, MaxIdleConnsPerHost: opt.Senders * 2, IdleConnTimeout: time.Minute,
	}}
	defer client.CloseIdleConnections()
	if opt.Scenario == ScenarioStorm {
		// Open the incident before the clock starts: the run measures
		// alerts joining it.
		if status, err := post(ctx, client, opt, payload(opt, -1, 0)); err != nil || status/100 != 2 {
			return nil, fmt.Errorf("storm: the request opening the incident got %d, %v", status, err)
		}
	}
	var cancel context.CancelFunc
	if opt.Duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, opt.Duration)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[int]int{}
		alerts    atomic.Int64
		failed    atomic.Int64
		issued    atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for s := 0; s < opt.Senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := opt
			if len(opt.URLs) > 0 {
				opt.URL = opt.URLs[s%len(opt.URLs)]
			}
			var mine []time.Duration
			local := map[int]int{}
			for seq := 0; ctx.Err() == nil; seq++ {
				if opt.Requests > 0 && issued.Add(1) > int64(opt.Requests) {
					break
				}
				body := payload(opt, s, seq)
				t0 := time.Now()
				status, err := post(ctx, client, opt, body)
				if ctx.Err() != nil {
					break // cut off by the end of the run: not a result
				}
				mine = append(mine, time.Since(t0))
				local[status]++
				if err != nil || status/100 != 2 {
					failed.Add(1)
					continue
				}
				alerts.Add(int64(opt.Batch))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			for k, v := range local {
				statuses[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := &Result{Options: opt, Requests: len(latencies), Alerts: int(alerts.Load()), Failed: int(failed.Load()),
		Statuses: statuses, Elapsed: time.Since(start)}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		res.P50, res.P99, res.Max = latencies[n/2], latencies[min(n-1, n*99/100)], latencies[n-1]
	}
	return res, nil
}

func post(ctx context.Context, c *http.Client, opt Options, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", opt.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if opt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+opt.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
}

// payload builds request seq of sender s: Batch alerts of one group, each
// with a label set of its own. In the storm scenario every request sends
// critical alerts of the run's one group.
func payload(opt Options, s, seq int) []byte {
	now := time.Now().UTC().Truncate(time.Millisecond)
	group := fmt.Sprintf("bench-%s-%d-%d", opt.Run, s, seq)
	severity := "warning"
	if opt.Scenario == ScenarioStorm {
		group, severity = "bench-storm-"+opt.Run, "critical"
	}
	alerts := make([]webhookAlert, opt.Batch)
	for i := range alerts {
		instance := fmt.Sprintf("web-%d:8080", i)
		if opt.Scenario == ScenarioStorm {
			instance = fmt.Sprintf("web-%d-%d-%d:8080", s, seq, i)
		}
		labels := map[string]string{
			"alertname": "BenchHighLatency", "service": "bench", "severity": severity, "env": "bench",
			"group": group, "instance": instance,
		}
		alerts[i] = webhookAlert{
			Status: "firing", Labels: labels, StartsAt: now,
			Annotations:  map[string]string{"summary": "p99 latency on " + instance + " is high", "description": "synthetic alert from quench bench"},
			GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=histogram_quantile%280.99%29&g0.tab=1",
		}
		if opt.Format == FormatWebhook {
			alerts[i].Fingerprint = alert.Fingerprint(labels)
		}
	}
	var body any = alerts
	if opt.Format == FormatWebhook {
		body = map[string]any{
			"receiver": "quench", "status": "firing", "alerts": alerts,
			"groupLabels":  map[string]string{"alertname": "BenchHighLatency", "group": group},
			"commonLabels": map[string]string{"alertname": "BenchHighLatency", "service": "bench"}, "commonAnnotations": map[string]string{},
			"externalURL": "http://alertmanager.example:9093", "version": "4",
			"groupKey": `{}:{alertname="BenchHighLatency", group="` + group + `"}`, "truncatedAlerts": 0,
		}
	}
	b, _ := json.Marshal(body)
	return b
}
