package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/build"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// Intake: what each delivery came to, by integration type.
	alerts  *prometheus.CounterVec
	refused *prometheus.CounterVec
	ingest  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, svc *service.Service) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quench_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	bi := build.Read()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "quench_build_info", Help: "Always 1; the labels say which Quench runs (join on it to see a rollout).",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
	})
	info.Set(1)
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quench_intake_alerts_total", Help: "Alerts stored by the intake, by integration type and status.",
	}, []string{"type", "status"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quench_intake_refused_total", Help: "Intake deliveries refused, by integration type and error code.",
	}, []string{"type", "code"})
	m.ingest = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "quench_intake_duration_seconds", Help: "Time from a delivery's arrival to its answer, by integration type.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"type"})
	reg.MustRegister(m.alerts, m.refused, m.ingest, &inboxCollector{svc: svc}, &heartbeatCollector{svc: svc})
	reg.MustRegister(m.requests, m.duration, info, &incidentCollector{svc: svc}, &reviewCollector{svc: svc},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// instrument logs and measures every request by its route pattern, never
// by raw path, so label cardinality stays bounded.
func (m *metrics) instrument(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		route := "unmatched"
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		d := time.Since(start)
		m.requests.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(r.Method, route).Observe(d.Seconds())
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "http request", "method", r.Method, "route", route, "path", api.LogPath(r),
			"status", rec.status, "duration_ms", float64(d.Microseconds())/1000, "bytes", rec.bytes, "remote", r.RemoteAddr)
	})
}

type routeKey struct{}

// recordRoute sits right outside the mux: inner middleware may replace the
// request, so the matched pattern is handed outwards through the context.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if p, ok := r.Context().Value(routeKey{}).(*string); ok && r.Pattern != "" {
			*p = r.Pattern
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach Flush for server-sent events.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// incidentCollector reads incidents by phase and severity at scrape time,
// so the gauge is always the database's truth, on every replica.
type incidentCollector struct{ svc *service.Service }

var incidentsDesc = prometheus.NewDesc("quench_incidents", "Incidents by phase (or end state: merged, cancelled) and severity.", []string{"phase", "severity"}, nil)

func (c *incidentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- incidentsDesc }

func (c *incidentCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var counts []store.IncidentCount
	err := c.svc.Store().Read(ctx, func(tx *store.Tx) (err error) { counts, err = tx.IncidentCounts(ctx); return err })
	if err != nil {
		ch <- prometheus.NewInvalidMetric(incidentsDesc, err)
		return
	}
	seen := map[[2]string]int{}
	for _, k := range counts {
		seen[[2]string{string(k.Phase), string(k.Severity)}] = k.Count
	}
	states := slices.Clone(incident.Phases)
	for _, e := range incident.EndStates {
		states = append(states, incident.Phase(e))
	}
	for _, p := range states {
		for _, s := range incident.Severities {
			ch <- prometheus.MustNewConstMetric(incidentsDesc, prometheus.GaugeValue, float64(seen[[2]string{string(p), string(s)}]), string(p), string(s))
		}
	}
}

// observeIntake counts one delivery to the intake endpoints.
func (m *metrics) observeIntake(o api.IntakeOutcome) {
	m.ingest.WithLabelValues(o.Type).Observe(o.Took.Seconds())
	if o.Code != "" {
		m.refused.WithLabelValues(o.Type, o.Code).Inc()
		return
	}
	m.alerts.WithLabelValues(o.Type, "firing").Add(float64(o.Firing))
	m.alerts.WithLabelValues(o.Type, "resolved").Add(float64(o.Resolved))
}

// inboxCollector reads the inbox size at scrape time from the counts
// intake keeps per integration: a sum over a handful of rows, however
// many alerts wait.
type inboxCollector struct{ svc *service.Service }

var inboxDesc = prometheus.NewDesc("quench_inbox_alerts", "Firing alerts in the inbox (in no incident).", nil, nil)

func (c *inboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- inboxDesc }

func (c *inboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int64
	err := c.svc.Store().Read(ctx, func(tx *store.Tx) (err error) { n, err = tx.InboxFiring(ctx); return err })
	if err != nil {
		ch <- prometheus.NewInvalidMetric(inboxDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(inboxDesc, prometheus.GaugeValue, float64(n))
}

// heartbeatCollector reads heartbeats by state at scrape time: how many
// are down (their alert fires), from the database, so every replica
// reports the same.
type heartbeatCollector struct{ svc *service.Service }

var heartbeatsDesc = prometheus.NewDesc("quench_heartbeats", "Heartbeats by state (up: waiting for the next ping; down: missed or failed, its alert fires).", []string{"state"}, nil)

func (c *heartbeatCollector) Describe(ch chan<- *prometheus.Desc) { ch <- heartbeatsDesc }

func (c *heartbeatCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states, err := c.svc.HeartbeatStates(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(heartbeatsDesc, err)
		return
	}
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(heartbeatsDesc, prometheus.GaugeValue, float64(n), string(s))
	}
}
