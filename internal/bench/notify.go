package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/notify/webhook"
)

// This file measures notification latency end to end: an alert is sent to
// a system (Quench's Alertmanager intake, or Alertmanager's own
// /api/v2/alerts) at a fixed open-loop rate, and a receiver on loopback
// takes the webhook the system sends for it. The latency of one alert is
// from the moment its request is sent to the moment its notification
// arrives; both are read from this process's clock.

// Receiver is a webhook receiver on loopback that matches each arriving
// notification to the alert it is about, by an ID the alert carried.
type Receiver struct {
	// URL is where the system sends its webhooks.
	URL string

	ids func(body []byte) []string
	srv *http.Server

	mu         sync.Mutex
	sent       map[string]time.Time
	got        map[string]time.Duration
	duplicates int
	unknown    int
	arrived    chan struct{}
}

// NewReceiver listens on addr ("127.0.0.1:0" for any port). ids reads the
// alert IDs a request body is about.
func NewReceiver(addr string, ids func(body []byte) []string) (*Receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + ln.Addr().String() + "/hook", ids: ids, arrived: make(chan struct{}, 1)}
	r.Reset()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

// Reset forgets every alert and arrival: a new run begins.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent, r.got, r.duplicates, r.unknown = map[string]time.Time{}, map[string]time.Duration{}, 0, 0
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	at := time.Now()
	if err != nil {
		return
	}
	ids := r.ids(body)
	r.mu.Lock()
	for _, id := range ids {
		t0, ok := r.sent[id]
		switch {
		case !ok:
			r.unknown++
		case r.got[id] != 0:
			r.duplicates++
		default:
			r.got[id] = max(at.Sub(t0), time.Nanosecond)
		}
	}
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// expect notes that the alert id is being sent now. It is called before
// the request goes out: the notification may arrive before the answer.
func (r *Receiver) expect(id string, at time.Time) {
	r.mu.Lock()
	r.sent[id] = at
	r.mu.Unlock()
}

func (r *Receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// LatencyOptions describe one open-loop run.
type LatencyOptions struct {
	// Rate is alerts per second, each in a request of its own.
	Rate     int
	Duration time.Duration
	// Send posts the alert that carries id; an error or a status other
	// than 2xx counts the alert as refused.
	Send func(ctx context.Context, id string) error
	// Run prefixes the alert IDs, so runs against one system differ.
	Run string
	// Settle bounds the wait for notifications after the last alert was
	// sent: the run ends when all have arrived or none arrived for
	// Settle.
	Settle time.Duration
}

// LatencyResult is what one run measured.
type LatencyResult struct {
	Sent, Refused, Delivered int
	// Duplicates are notifications for an alert that had already
	// arrived; Unknown are for no alert of this run.
	Duplicates, Unknown int
	// Elapsed is how long sending took; Lag is how far behind its
	// schedule the last request went out.
	Elapsed, Lag       time.Duration
	P50, P90, P99, Max time.Duration
	// AckP50 and AckP99 are of the alert requests' answers: what the
	// sender waited for.
	AckP50, AckP99 time.Duration
	Errors         []string
}

// Latency sends Rate alerts per second for Duration, each at its scheduled
// moment whether or not earlier requests have been answered (open loop: a
// slow system does not slow the load down), and measures when each
// alert's notification reaches r.
func Latency(ctx context.Context, r *Receiver, opt LatencyOptions) (*LatencyResult, error) {
	if opt.Rate <= 0 || opt.Duration <= 0 || opt.Send == nil {
		return nil, fmt.Errorf("rate, duration and a sender are required")
	}
	if opt.Settle <= 0 {
		opt.Settle = 10 * time.Second
	}
	r.Reset()
	n := int(opt.Duration.Seconds() * float64(opt.Rate))
	interval := time.Second / time.Duration(opt.Rate)
	var (
		wg      sync.WaitGroup
		refused atomic.Int64
		errMu   sync.Mutex
		errs    []string
		acks    = make([]time.Duration, 0, n)
	)
	start := time.Now()
	var lag time.Duration
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		lag = time.Since(due)
		id := fmt.Sprintf("%s-%d", opt.Run, i)
		wg.Go(func() {
			t0 := time.Now()
			r.expect(id, t0)
			err := opt.Send(ctx, id)
			took := time.Since(t0)
			errMu.Lock()
			defer errMu.Unlock()
			if err != nil {
				refused.Add(1)
				if len(errs) < 5 {
					errs = append(errs, err.Error())
				}
				return
			}
			acks = append(acks, took)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := n - int(refused.Load())
	last, lastCount := time.Now(), r.delivered()
	for lastCount < want && time.Since(last) < opt.Settle {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		}
		if c := r.delivered(); c != lastCount {
			last, lastCount = time.Now(), c
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &LatencyResult{Sent: n, Refused: int(refused.Load()), Delivered: len(r.got), Duplicates: r.duplicates,
		Unknown: r.unknown, Elapsed: elapsed, Lag: lag, Errors: errs}
	lat := make([]time.Duration, 0, len(r.got))
	for _, d := range r.got {
		lat = append(lat, d)
	}
	res.P50, res.P90, res.P99, res.Max = quantile(lat, 0.50), quantile(lat, 0.90), quantile(lat, 0.99), quantile(lat, 1)
	res.AckP50, res.AckP99 = quantile(acks, 0.50), quantile(acks, 0.99)
	return res, nil
}

// quantile sorts ds and returns its q-quantile (0 when empty).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*q))]
}

// LatencyClient is an HTTP client for open-loop senders: enough idle
// connections that a burst does not open new ones for every request.
func LatencyClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute,
	}}
}

// benchLabels are the labels of alert id: critical, so Quench's default
// rules open an incident for it.
func benchLabels(id string) map[string]string {
	return map[string]string{"alertname": "BenchNotify", "severity": "critical", "service": "bench", "bench_id": id}
}

const titlePrefix = "bench notify "

// QuenchSender posts alert id to a Quench Alertmanager intake URL as a
// version-4 webhook of its own group: each alert opens its own incident,
// titled with its ID.
func QuenchSender(c *http.Client, url, token string) func(context.Context, string) error {
	return func(ctx context.Context, id string) error {
		labels := benchLabels(id)
		a := webhookAlert{Status: "firing", Labels: labels, StartsAt: time.Now().UTC().Truncate(time.Millisecond),
			Annotations:  map[string]string{"summary": titlePrefix + id},
			GeneratorURL: "http://prometheus.example:9090/graph", Fingerprint: alert.Fingerprint(labels)}
		body, err := json.Marshal(map[string]any{
			"version": "4", "receiver": "quench", "status": "firing", "alerts": []webhookAlert{a},
			"groupKey": `{}:{bench_id="` + id + `"}`, "groupLabels": map[string]string{"bench_id": id},
			"commonLabels": labels, "commonAnnotations": a.Annotations, "externalURL": "http://alertmanager.example:9093",
		})
		if err != nil {
			return err
		}
		return postJSON(ctx, c, url, token, body)
	}
}

// AlertmanagerSender posts alert id to Alertmanager's /api/v2/alerts at
// base, as Prometheus does.
func AlertmanagerSender(c *http.Client, base string) func(context.Context, string) error {
	url := strings.TrimRight(base, "/") + "/api/v2/alerts"
	return func(ctx context.Context, id string) error {
		body, err := json.Marshal([]map[string]any{{
			"labels": benchLabels(id), "annotations": map[string]string{"summary": titlePrefix + id},
			"startsAt": time.Now().UTC().Format(time.RFC3339Nano), "generatorURL": "http://prometheus.example:9090/graph",
		}})
		if err != nil {
			return err
		}
		return postJSON(ctx, c, url, "", body)
	}
}

func postJSON(ctx context.Context, c *http.Client, url, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// QuenchIDs reads the alert ID from a Quench webhook: the incident's
// title. Other events (there should be none) carry no ID.
func QuenchIDs(body []byte) []string {
	var p webhook.Payload
	if json.Unmarshal(body, &p) != nil || p.Type != "incident.opened" {
		return nil
	}
	id, ok := strings.CutPrefix(p.Data.Incident.Title, titlePrefix)
	if !ok {
		return nil
	}
	return []string{id}
}

// AlertmanagerIDs reads the alert IDs from an Alertmanager webhook.
func AlertmanagerIDs(body []byte) []string {
	var m struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []string
	for _, a := range m.Alerts {
		if id := a.Labels["bench_id"]; id != "" && a.Status == "firing" {
			out = append(out, id)
		}
	}
	return out
}
