package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// IngestResult says what one delivery did.
type IngestResult struct {
	Accepted int  `json:"accepted"`
	New      int  `json:"new"`
	Resolved int  `json:"resolved"`
	Replayed bool `json:"replayed,omitempty"`
	// Opened and Attached list incident numbers.
	Opened   []int64 `json:"opened"`
	Attached []int64 `json:"attached"`
}

// Ingest stores one delivery of alerts from an integration and routes the
// newly firing ones by the rules. It commits before returning, so a nil
// error means the alerts are durable. deliveryID, when set, makes a replay
// of the same delivery change nothing. Alerts never move incidents between
// phases.
func (s *Service) Ingest(ctx context.Context, integrationID, deliveryID string, alerts []alert.Alert) (*IngestResult, error) {
	alerts = lastPerFingerprint(alerts)
	var res IngestResult
	var changed map[int64]bool
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		res, changed = IngestResult{}, map[int64]bool{}
		in, err := tx.LockIntegration(ctx, integrationID)
		if err != nil {
			return err
		}
		now := s.Now()
		if deliveryID != "" {
			fresh, err := tx.RecordDelivery(ctx, in.ID, deliveryID, now)
			if err != nil || !fresh {
				res.Replayed = !fresh
				return err
			}
		}
		ing := &ingestion{s: s, tx: tx, ctx: ctx, in: in, now: now, res: &res, changed: changed}
		if err := ing.apply(alerts); err != nil {
			return err
		}
		// "Last alert" is for people; once a second is precise enough and
		// spares a write per delivery in a storm.
		if now.Sub(in.LastAlertAt) < time.Second {
			return nil
		}
		return tx.TouchIntegration(ctx, in.ID, now)
	})
	if err != nil {
		return nil, err
	}
	for n := range changed {
		s.publish(Change{Incident: n, Kind: incident.EventAlertAttached})
	}
	return &res, nil
}

// lastPerFingerprint keeps the last alert of each fingerprint in a payload.
func lastPerFingerprint(alerts []alert.Alert) []alert.Alert {
	seen := make(map[string]int, len(alerts))
	out := alerts[:0:0]
	for _, a := range alerts {
		if i, ok := seen[a.Fingerprint]; ok {
			out[i] = a
			continue
		}
		seen[a.Fingerprint] = len(out)
		out = append(out, a)
	}
	return out
}

// ingestion is the state of one Ingest transaction.
type ingestion struct {
	s       *Service
	tx      *store.Tx
	ctx     context.Context
	in      *alert.Integration
	now     time.Time
	res     *IngestResult
	changed map[int64]bool
	rules   []alert.Rule
	loaded  bool
	// openedBy names the rule that just opened an incident, for its event.
	openedBy string
}

func (g *ingestion) apply(alerts []alert.Alert) error {
	fps := make([]string, len(alerts))
	for i := range alerts {
		fps[i] = alerts[i].Fingerprint
	}
	existing, err := g.tx.AlertsByFingerprint(g.ctx, g.in.ID, fps)
	if err != nil {
		return err
	}
	var inbox []*alert.Record
	for i := range alerts {
		a := alerts[i]
		g.res.Accepted++
		rec, known := existing[a.Fingerprint]
		wasFiring := known && rec.Status == alert.Firing
		if !known {
			rec = &alert.Record{IntegrationID: g.in.ID, FirstSeen: g.now}
			g.res.New++
		}
		rec.Alert, rec.LastSeen = a, g.now
		rec.Received++
		if a.Status == alert.Resolved && wasFiring {
			g.res.Resolved++
			if rec.Incident != 0 {
				g.changed[rec.Incident] = true
			}
		}
		attach := int64(0)
		again := false
		if a.Status == alert.Firing && !wasFiring {
			if attach, again, err = g.route(rec); err != nil {
				return err
			}
			rec.Incident = attach
		}
		// One write per alert, routing decided first; new inbox alerts are
		// written together after the loop (nothing reads them before).
		switch {
		case known:
			err = g.tx.SaveAlert(g.ctx, rec)
		case attach != 0:
			err = g.tx.InsertAlert(g.ctx, rec)
		default:
			inbox = append(inbox, rec)
		}
		if err != nil {
			return err
		}
		if attach != 0 {
			if err := g.attach(rec, again); err != nil {
				return err
			}
		}
	}
	if err := g.tx.InsertAlerts(g.ctx, inbox); err != nil {
		return err
	}
	for n := range g.changed {
		if err := g.s.refreshAlertsHint(g.ctx, g.tx, n, g.actor(), g.now); err != nil {
			return err
		}
	}
	return nil
}

// actor names the sender in the timeline by type only: the integration's
// name is internal and goes into the internal alert events.
func (g *ingestion) actor() string { return g.in.Type }

// route decides where a newly firing alert goes and returns the incident
// to attach it to (0: the inbox). An alert still attached to an open
// incident stays there (again); otherwise the first matching rule decides.
func (g *ingestion) route(rec *alert.Record) (n int64, again bool, err error) {
	if rec.Incident != 0 {
		inc, err := g.tx.Incident(g.ctx, rec.Incident)
		if err != nil {
			return 0, false, err
		}
		if inc.Phase != incident.Closed {
			return rec.Incident, true, nil
		}
	}
	if !g.loaded {
		rules, err := g.tx.Rules(g.ctx)
		if err != nil {
			return 0, false, err
		}
		for _, r := range rules {
			g.rules = append(g.rules, *r)
		}
		g.loaded = true
	}
	rule := alert.Route(g.rules, g.in.ID, &rec.Alert)
	if rule == nil || rule.Action == alert.ActionInbox {
		return 0, false, nil
	}
	if rec.GroupKey != "" {
		n, err := g.tx.OpenIncidentForGroup(g.ctx, g.in.ID, rec.GroupKey)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, false, err
		}
		if n != 0 {
			return n, false, nil
		}
	}
	if rule.Action != alert.ActionOpen {
		return 0, false, nil
	}
	inc := g.s.incidentFromAlert(&rec.Alert, g.in, rule, g.actor(), g.now)
	// The created event is public: which integration and rule opened the
	// incident stays in the internal alert event.
	if err := g.s.insertIncident(g.ctx, g.tx, inc, nil); err != nil {
		return 0, false, err
	}
	g.res.Opened = append(g.res.Opened, inc.Number)
	g.openedBy = rule.Name
	return inc.Number, false, nil
}

// attach records that rec joined its incident with an internal event.
func (g *ingestion) attach(rec *alert.Record, again bool) error {
	n := rec.Incident
	if !slices.Contains(g.res.Opened, n) && !slices.Contains(g.res.Attached, n) {
		g.res.Attached = append(g.res.Attached, n)
	}
	g.changed[n] = true
	data := map[string]any{"integration": g.in.Name}
	if again {
		data["again"] = true
	}
	if g.openedBy != "" {
		data["opened_by_rule"], g.openedBy = g.openedBy, ""
	}
	return g.s.appendAlertEvent(g.ctx, g.tx, rec, g.actor(), g.now, data)
}

// appendAlertEvent records that rec joined its incident; extra adds to the
// event's data. The event is internal: alert labels name hosts and systems.
func (s *Service) appendAlertEvent(ctx context.Context, tx *store.Tx, rec *alert.Record, actor string, at time.Time, extra map[string]any) error {
	data := map[string]any{"alert": rec.ID, "title": rec.Title, "status": rec.Status, "fingerprint": rec.Fingerprint}
	for k, v := range extra {
		data[k] = v
	}
	return s.record(ctx, tx, nil, &incident.Event{Incident: rec.Incident, At: at, Actor: actor, Kind: incident.EventAlertAttached, Internal: true, Data: data})
}

// refreshAlertsHint keeps the "alerts resolved — mitigated?" hint true
// exactly while every alert of an active incident has resolved; the
// timeline says so once each time it becomes true. It never moves phases.
func (s *Service) refreshAlertsHint(ctx context.Context, tx *store.Tx, n int64, actor string, at time.Time) error {
	inc, err := tx.IncidentForUpdate(ctx, n)
	if err != nil {
		return err
	}
	alerts, err := tx.IncidentAlerts(ctx, n)
	if err != nil {
		return err
	}
	all := len(alerts) > 0 && inc.Phase == incident.Active
	for _, a := range alerts {
		all = all && a.Status == alert.Resolved
	}
	if all == inc.AlertsResolved {
		return nil
	}
	inc.AlertsResolved = all
	if err := tx.SaveIncident(ctx, inc, inc.Phase, false); err != nil {
		return err
	}
	if !all {
		return nil
	}
	return s.record(ctx, tx, inc, &incident.Event{Incident: n, At: at, Actor: actor, Kind: incident.EventAlertsResolved,
		Data: map[string]any{"alerts": len(alerts), "hint": "all alerts resolved: mitigated?"}})
}

// incidentFromAlert drafts the incident a rule opens for an alert.
func (s *Service) incidentFromAlert(a *alert.Alert, in *alert.Integration, rule *alert.Rule, actor string, now time.Time) *incident.Incident {
	d := incident.Draft{
		Title:           a.Title,
		Severity:        severityOf(rule.Severity, a.Labels["severity"]),
		DetectionSource: incident.SourceAlert,
		Visibility:      incident.Visibility(rule.Visibility),
	}
	switch in.Type {
	case alert.TypeSentry:
		d.DetectionSource = incident.SourceException
	case alert.TypeReport:
		d.DetectionSource = incident.SourceCustomer
	}
	if svc := a.Labels["service"]; svc != "" {
		d.Services = []string{svc}
	}
	if name := a.Labels["alertname"]; name != "" {
		d.Labels = map[string]string{"alertname": name}
	}
	if d.Normalize() != nil {
		// A rule's odd severity or visibility must not lose the alert.
		d.Severity, d.Visibility = severityOf("", a.Labels["severity"]), incident.Public
		if d.Title == "" {
			d.Title = "alert " + a.Fingerprint
		}
		d.Normalize()
	}
	return &incident.Incident{
		Title: d.Title, Severity: d.Severity, Services: d.Services, Labels: d.Labels, DetectionSource: d.DetectionSource,
		Visibility: d.Visibility, Phase: incident.Active, EnteredAt: map[incident.Phase]time.Time{incident.Active: now},
		Notes: map[incident.Phase]string{}, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
}

// severityOf maps a rule override or an alert's severity label, in the
// words monitoring setups commonly use, to an incident severity.
func severityOf(override, label string) incident.Severity {
	if override != "" {
		return incident.Severity(override)
	}
	switch strings.ToLower(label) {
	case "critical", "page", "p1", "fatal", "emergency", "sev1":
		return incident.Critical
	case "major", "error", "high", "important", "p2", "sev2":
		return incident.Major
	}
	return incident.Minor
}

// AlertQuery filters the alert inbox.
type AlertQuery struct {
	// Status, when set, keeps firing or resolved alerts.
	Status alert.Status
	// Integration, when set, keeps the alerts of one integration.
	Integration string
	// Unattached keeps alerts that are part of no incident.
	Unattached bool
	// Matchers keep alerts whose labels match all of them.
	Matchers      []alert.Matcher
	Limit, Offset int
}

// maxAlertScan bounds how many alerts a label-matcher query inspects.
const maxAlertScan = 5000

// Alerts lists stored alerts for the team.
func (s *Service) Alerts(ctx context.Context, p auth.Principal, q AlertQuery) ([]*alert.Record, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return nil, err
	}
	f := store.AlertFilter{Status: q.Status, Integration: q.Integration, Unattached: q.Unattached, Limit: q.Limit, Offset: q.Offset}
	if len(q.Matchers) > 0 {
		f.Limit, f.Offset = maxAlertScan, 0
	}
	var list []*alert.Record
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { list, err = tx.Alerts(ctx, f); return err })
	if err != nil || len(q.Matchers) == 0 {
		return list, err
	}
	out := list[:0]
	for _, r := range list {
		ok := true
		for _, m := range q.Matchers {
			ok = ok && m.Matches(r.Labels)
		}
		if ok {
			out = append(out, r)
		}
	}
	lo := min(q.Offset, len(out))
	hi := len(out)
	if q.Limit > 0 {
		hi = min(lo+q.Limit, len(out))
	}
	return out[lo:hi], nil
}

// IncidentAlerts lists the alerts attached to an incident, for the team.
func (s *Service) IncidentAlerts(ctx context.Context, p auth.Principal, number int64) ([]*alert.Record, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return nil, err
	}
	var list []*alert.Record
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		if _, err := visibleIncident(ctx, tx, number, false, false); err != nil {
			return err
		}
		var err error
		list, err = tx.IncidentAlerts(ctx, number)
		return err
	})
	return list, err
}

// loadFreeAlerts reads alerts that may join an incident: not attached to
// one that is still open.
func loadFreeAlerts(ctx context.Context, tx *store.Tx, ids []int64) ([]*alert.Record, error) {
	if len(ids) == 0 {
		return nil, problem.Unprocessablef("name at least one alert")
	}
	out := make([]*alert.Record, 0, len(ids))
	for _, id := range ids {
		rec, err := tx.Alert(ctx, id)
		if err != nil {
			return nil, missing(err, "alert %d not found", id)
		}
		if rec.Incident != 0 {
			inc, err := tx.Incident(ctx, rec.Incident)
			if err != nil {
				return nil, err
			}
			if inc.Phase != incident.Closed {
				return nil, problem.New(problem.Conflict, "alert_attached", "alert %d already belongs to incident #%d", id, rec.Incident).With("incident", rec.Incident)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// DeclareIncident opens an incident from inbox alerts; d's empty fields
// default from the first alert.
func (s *Service) DeclareIncident(ctx context.Context, p auth.Principal, ids []int64, d incident.Draft) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "declare incidents"); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		recs, err := loadFreeAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		first := recs[0]
		in, err := tx.Integration(ctx, first.IntegrationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if in == nil {
			in = &alert.Integration{Type: alert.TypeGeneric}
		}
		base := s.incidentFromAlert(&first.Alert, in, &alert.Rule{}, p.Name(), s.Now())
		if d.Title == "" {
			d.Title = base.Title
		}
		if d.Severity == "" {
			d.Severity = base.Severity
		}
		if d.Services == nil {
			d.Services = base.Services
		}
		if d.Labels == nil {
			d.Labels = base.Labels
		}
		if d.DetectionSource == "" && slices.ContainsFunc(recs, isReport) {
			d.DetectionSource = incident.SourceCustomer
		}
		if d.DetectionSource == "" {
			d.DetectionSource = base.DetectionSource
		}
		if err := d.Normalize(); err != nil {
			return err
		}
		now := s.Now()
		inc = &incident.Incident{Title: d.Title, Summary: d.Summary, Severity: d.Severity, Services: d.Services, Labels: d.Labels,
			DetectionSource: d.DetectionSource, Visibility: d.Visibility, Phase: incident.Active, Owners: d.Owners,
			EnteredAt: map[incident.Phase]time.Time{incident.Active: now}, Notes: map[incident.Phase]string{},
			CreatedBy: p.Name(), CreatedAt: now, UpdatedAt: now}
		if err := s.insertIncident(ctx, tx, inc, map[string]any{"declared_from_alerts": ids}); err != nil {
			return err
		}
		return attachAll(ctx, tx, s, recs, inc.Number, p.Name(), now)
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: inc.Number, Kind: incident.EventCreated, Public: !inc.Confidential()})
	return inc, nil
}

// AttachAlerts adds inbox alerts to an incident that is not closed.
func (s *Service) AttachAlerts(ctx context.Context, p auth.Principal, number int64, ids []int64) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "attach alerts"); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		if inc.Phase == incident.Closed {
			return problem.New(problem.Conflict, "incident_closed", "incident #%d is closed; reopen it or declare a new one", number)
		}
		recs, err := loadFreeAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		if err := attachAll(ctx, tx, s, recs, number, p.Name(), s.Now()); err != nil {
			return err
		}
		if inc, err = tx.Incident(ctx, number); err != nil {
			return err
		}
		return s.customersFirst(ctx, tx, inc, recs, p.Name(), s.Now())
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: incident.EventAlertAttached})
	return inc, nil
}

func attachAll(ctx context.Context, tx *store.Tx, s *Service, recs []*alert.Record, number int64, actor string, now time.Time) error {
	for _, rec := range recs {
		rec.Incident = number
		if err := tx.SaveAlert(ctx, rec); err != nil {
			return err
		}
		if err := s.appendAlertEvent(ctx, tx, rec, actor, now, nil); err != nil {
			return err
		}
	}
	return s.refreshAlertsHint(ctx, tx, number, actor, now)
}
