package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

// reviewCollector reports, at scrape time from the database, what the
// weekly review looks at: incidents stuck in a phase, how incidents were
// found, and how long they stay in each phase, for the team's own
// Grafana.
type reviewCollector struct{ svc *service.Service }

var (
	stuckDesc = prometheus.NewDesc("quench_incidents_stuck",
		"Incidents in their phase for longer than the incident.stuck threshold, by phase.", []string{"phase"}, nil)
	detectionDesc = prometheus.NewDesc("quench_incidents_by_detection_source",
		"Incidents by how they were found: alert, exception, customer, team, other.", []string{"source"}, nil)
	phaseDurationDesc = prometheus.NewDesc("quench_incident_phase_duration_seconds",
		"How long incidents stayed in a phase they have left (from its last entry to the next phase's), by phase and severity.",
		[]string{"phase", "severity"}, nil)
)

func (c *reviewCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stuckDesc
	ch <- detectionDesc
	ch <- phaseDurationDesc
}

func (c *reviewCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.svc.ReviewMetrics(ctx)
	if err != nil {
		for _, d := range []*prometheus.Desc{stuckDesc, detectionDesc, phaseDurationDesc} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for _, ph := range incident.OwnedPhases {
		ch <- prometheus.MustNewConstMetric(stuckDesc, prometheus.GaugeValue, float64(m.Stuck[ph]), string(ph))
	}
	for _, s := range incident.Sources {
		ch <- prometheus.MustNewConstMetric(detectionDesc, prometheus.GaugeValue, float64(m.Detection[s]), string(s))
	}
	for _, ph := range incident.OwnedPhases {
		for _, sev := range incident.Severities {
			buckets := map[float64]uint64{}
			var count uint64
			var sum float64
			if h := m.PhaseDurations[ph][sev]; h != nil {
				for i, b := range h.Bounds {
					buckets[b.Seconds()] = h.Counts[i]
				}
				count, sum = h.Count, h.Sum.Seconds()
			} else {
				for _, b := range service.PhaseDurationBuckets {
					buckets[b.Seconds()] = 0
				}
			}
			ch <- prometheus.MustNewConstHistogram(phaseDurationDesc, count, sum, buckets, string(ph), string(sev))
		}
	}
}
