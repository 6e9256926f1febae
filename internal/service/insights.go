package service

import (
	"context"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/store"
)

// Limits of the insights.
const (
	maxInsightsRange = 20 * 366 * 24 * time.Hour
	noisiestAlerts   = 10
)

// InsightsPeriod is the default period of the insights at now: the
// current calendar month and the eleven before it (UTC), up to now.
func InsightsPeriod(now time.Time) (since, until time.Time) {
	now = now.UTC()
	return time.Date(now.Year(), now.Month()-11, 1, 0, 0, 0, 0, time.UTC), now
}

// Insights are the figures of the incidents opened in [since, until):
// times to mitigate, resolve and close per month and severity (median and
// p90, nearest rank), incidents per service, detection-source shares and
// the found-by-monitoring trend, and how alerts relate to incidents. Zero
// times take InsightsPeriod. The team sees every incident; anonymous
// viewers, where the instance is public, see the public incidents only
// and no alert figures: alerts are internal.
func (s *Service) Insights(ctx context.Context, p auth.Principal, since, until time.Time) (*review.Insights, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, err
	}
	dsince, duntil := InsightsPeriod(s.Now())
	if since.IsZero() {
		since = dsince
	}
	if until.IsZero() {
		until = duntil
	}
	if err := checkPeriod(since, until, maxInsightsRange, "insights cover at most 20 years"); err != nil {
		return nil, err
	}
	var in review.Insights
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		period := store.Period{Since: since, Until: until, PublicOnly: publicOnly}
		b := review.NewBuilder(since, until, publicOnly)
		if err := tx.EachFact(ctx, period, b.Add); err != nil {
			return err
		}
		in = b.Insights()
		var err error
		if in.Services, err = tx.ServiceCounts(ctx, period); err != nil || publicOnly {
			return err
		}
		a := &review.AlertFigures{Incidents: in.Incidents}
		if a.Alerts, a.Attached, err = tx.AlertCounts(ctx, since, until); err != nil {
			return err
		}
		if a.Incidents > 0 {
			a.PerIncident = float64(a.Alerts) / float64(a.Incidents)
		}
		if a.Noisiest, err = tx.AlertNames(ctx, since, until, false, noisiestAlerts); err != nil {
			return err
		}
		in.Alerts = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// PhaseDurationBuckets are the upper bounds of the phase-duration
// histograms: minutes to months.
var PhaseDurationBuckets = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	4 * time.Hour, 8 * time.Hour, 24 * time.Hour, 2 * 24 * time.Hour, 4 * 24 * time.Hour, 7 * 24 * time.Hour,
	14 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour}

// ReviewMetrics are the review's figures for Prometheus, read from the
// database at scrape time so every replica reports the same.
type ReviewMetrics struct {
	// Stuck counts the incidents past their phase's incident.stuck
	// threshold, by phase.
	Stuck map[incident.Phase]int
	// Detection counts incidents by detection source.
	Detection map[incident.Source]int
	// PhaseDurations histogram how long incidents stayed in a phase they
	// left (active, mitigated, resolved), by severity.
	PhaseDurations map[incident.Phase]map[incident.Severity]*store.Histogram
}

// ReviewMetrics reads the review's metrics.
func (s *Service) ReviewMetrics(ctx context.Context) (*ReviewMetrics, error) {
	m := &ReviewMetrics{Stuck: map[incident.Phase]int{}, PhaseDurations: map[incident.Phase]map[incident.Severity]*store.Histogram{}}
	now := s.Now()
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		err := tx.EachIncident(ctx, store.IncidentFilter{Phases: incident.OwnedPhases}, func(inc *incident.Incident) error {
			if _, ok := s.stuck(inc, now); ok {
				m.Stuck[inc.Phase]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if m.Detection, err = tx.DetectionCounts(ctx); err != nil {
			return err
		}
		for _, ph := range incident.OwnedPhases {
			if m.PhaseDurations[ph], err = tx.PhaseDurations(ctx, ph, PhaseDurationBuckets); err != nil {
				return err
			}
		}
		return nil
	})
	return m, err
}
