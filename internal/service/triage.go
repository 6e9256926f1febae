package service

import (
	"context"
	"errors"

	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// Limits of inbox triage.
const (
	// MaxTriageAlerts bounds the alerts one bulk action names.
	MaxTriageAlerts = 1000
	// MaxTriageReason caps a dismissal's or a snooze's reason.
	MaxTriageReason = 500
	// MinSnooze and MaxSnooze bound how long a snooze holds.
	MinSnooze = time.Minute
	MaxSnooze = 30 * 24 * time.Hour
	// maxSnoozeMatchers caps the stored matchers of one snooze.
	maxSnoozeMatchers = 2000
)

// triageAlerts reads the named alerts for a triage action, all or none.
func triageAlerts(ctx context.Context, tx *store.Tx, ids []int64) ([]*alert.Record, error) {
	if len(ids) == 0 {
		return nil, problem.Unprocessablef("name at least one alert")
	}
	if len(ids) > MaxTriageAlerts {
		return nil, problem.Unprocessablef("name at most %d alerts at once", MaxTriageAlerts)
	}
	return lockedAlerts(ctx, tx, ids)
}

// lockedAlerts reads the named alerts to change them, all or none (a
// missing one is not_found), in id order.
func lockedAlerts(ctx context.Context, tx *store.Tx, ids []int64) ([]*alert.Record, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list, err := tx.AlertsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	// Intake holds its integration's row while it changes alerts (and
	// writes their triage with them): lock the same rows, in order, then
	// read the alerts again, so neither undoes the other on PostgreSQL.
	// Intake goes on to the incidents of its alerts, so a caller that
	// locks an incident too locks it after these (AttachAlerts): the
	// other order deadlocked with intake.
	var ins []string
	for _, r := range list {
		ins = append(ins, r.IntegrationID)
	}
	slices.Sort(ins)
	for _, id := range slices.Compact(ins) {
		if _, err := tx.LockIntegration(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if list, err = tx.AlertsByID(ctx, ids); err != nil {
		return nil, err
	}
	if len(list) != len(ids) {
		found := map[int64]bool{}
		for _, r := range list {
			found[r.ID] = true
		}
		for _, id := range ids {
			if !found[id] {
				return nil, problem.New(problem.NotFound, "not_found", "alert %d not found", id)
			}
		}
	}
	return list, nil
}

// triage runs one triage action on the named alerts, all or none: p must
// be allowed to triage (what says what for, in the refusal); change
// applies the action to the alerts, read and locked, and returns the
// audit entry's details, recorded as action; the inbox's watchers hear of
// it once committed.
func (s *Service) triage(ctx context.Context, p auth.Principal, what, action string, ids []int64,
	change func(tx *store.Tx, list []*alert.Record) (map[string]any, error)) ([]*alert.Record, error) {
	if err := require(p, auth.WriteIncidents, what); err != nil {
		return nil, err
	}
	var out []*alert.Record
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		list, err := triageAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		detail, err := change(tx, list)
		if err != nil {
			return err
		}
		out = list
		return s.auditBy(ctx, tx, p, action, idList(ids), detail)
	})
	if err == nil {
		s.inboxMoved()
	}
	return out, err
}

// saveTriage applies set to each alert of list, stores its triage, and
// moves the inbox counts the change makes.
func (s *Service) saveTriage(ctx context.Context, tx *store.Tx, list []*alert.Record, actor string, set func(*alert.Record)) error {
	now := s.Now()
	counts := newCountChanges()
	for _, r := range list {
		before := *r
		set(r)
		if err := tx.SaveTriage(ctx, r.ID, r.Triage); err != nil {
			return err
		}
		counts.move(&before, r)
	}
	return counts.write(ctx, tx, s, actor, now)
}

// AckAlerts acknowledges alerts: p is on them. An alert acknowledged
// already keeps its first owner and time.
func (s *Service) AckAlerts(ctx context.Context, p auth.Principal, ids []int64) ([]*alert.Record, error) {
	return s.triage(ctx, p, "acknowledge alerts", "alerts_acknowledged", ids, func(tx *store.Tx, list []*alert.Record) (map[string]any, error) {
		now := s.Now()
		var acked []int64
		for _, r := range list {
			if r.Acked() {
				continue
			}
			r.AckedBy, r.AckedAt = p.Name(), now
			if err := tx.SaveTriage(ctx, r.ID, r.Triage); err != nil {
				return nil, err
			}
			acked = append(acked, r.ID)
		}
		return map[string]any{"alerts": acked}, nil
	})
}

// DismissAlerts says alerts are not an incident, for reason: they leave
// the inbox's default view until they resolve and fire again. An alert
// part of an incident that is not closed cannot be dismissed.
func (s *Service) DismissAlerts(ctx context.Context, p auth.Principal, ids []int64, reason string) ([]*alert.Record, error) {
	// Refused before the reason is looked at, as by triage.
	if err := require(p, auth.WriteIncidents, "dismiss alerts"); err != nil {
		return nil, err
	}
	reason = text.Line(reason, MaxTriageReason)
	if reason == "" {
		return nil, problem.Unprocessablef("say why the alerts are dismissed (reason)")
	}
	return s.triage(ctx, p, "dismiss alerts", "alerts_dismissed", ids, func(tx *store.Tx, list []*alert.Record) (map[string]any, error) {
		for _, r := range list {
			if r.Incident == 0 {
				continue
			}
			inc, err := tx.Incident(ctx, r.Incident)
			if err != nil {
				return nil, err
			}
			if inc.Phase != incident.Closed {
				return nil, problem.New(problem.Conflict, "alert_attached", "alert %d belongs to incident #%d; it is an incident already", r.ID, r.Incident).With("incident", r.Incident)
			}
		}
		now := s.Now()
		err := s.saveTriage(ctx, tx, list, p.Name(), func(r *alert.Record) {
			r.DismissedBy, r.DismissedAt, r.DismissReason = p.Name(), now, reason
		})
		return map[string]any{"reason": reason}, err
	})
}

// idList names alerts in the audit log: "alert 3" or "alerts 3, 4, 9".
func idList(ids []int64) string {
	if len(ids) == 1 {
		return "alert " + strconv.FormatInt(ids[0], 10)
	}
	b := []byte("alerts ")
	for i, id := range ids {
		if i > 0 {
			b = append(b, ", "...)
		}
		if len(b) > 200 {
			b = append(b, "…"...)
			break
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}

// NewSnooze is what a responder supplies for a snooze.
type NewSnooze struct {
	// Matchers select the alerts, in the rules' syntax; at least one.
	Matchers string
	// For is how long the snooze holds, from now.
	For    time.Duration
	Reason string
}

// ParseSpan reads a snooze's duration as Go writes it ("90m", "2h30m")
// or in whole days ("3d").
func ParseSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	return 0, problem.Invalidf("duration %q: write it as 90m, 2h30m or 3d", text.Line(s, 40))
}

// CreateSnooze keeps new alerts matching n.Matchers quiet for n.For: they
// go to the inbox and open or join no incident until it ends.
func (s *Service) CreateSnooze(ctx context.Context, p auth.Principal, n NewSnooze) (*alert.Snooze, error) {
	if err := require(p, auth.WriteIncidents, "snooze alerts"); err != nil {
		return nil, err
	}
	if len(n.Matchers) > maxSnoozeMatchers {
		return nil, problem.Unprocessablef("matchers: at most %d characters", maxSnoozeMatchers)
	}
	ms, err := alert.ParseMatchers(n.Matchers)
	if err != nil {
		return nil, problem.Wrap(problem.Unprocessable, "invalid_matchers", err, "matchers: %v", err)
	}
	if len(ms) == 0 {
		return nil, problem.Unprocessablef(`name the alerts to snooze with at least one matcher, such as alertname="DiskFull"`)
	}
	if n.For < MinSnooze || n.For > MaxSnooze {
		return nil, problem.Unprocessablef("a snooze lasts from %s to %s", MinSnooze, "30 days")
	}
	now := s.Now()
	sn := &alert.Snooze{Matchers: ms, Reason: text.Line(n.Reason, MaxTriageReason), CreatedBy: p.Name(), CreatedAt: now, EndsAt: now.Add(n.For)}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertSnooze(ctx, sn); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "snooze_created", "snooze "+strconv.FormatInt(sn.ID, 10),
			map[string]any{"matchers": sn.MatchersString(), "ends_at": sn.EndsAt.UTC().Format(time.RFC3339), "reason": sn.Reason})
	})
	if err != nil {
		return nil, err
	}
	s.inboxMoved()
	return sn, nil
}

// DeleteSnooze ends a snooze now: new matching alerts are routed by the
// rules again.
func (s *Service) DeleteSnooze(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.WriteIncidents, "remove snoozes"); err != nil {
		return err
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		sn, err := tx.Snooze(ctx, id)
		if err != nil {
			return missing(err, "snooze %d not found", id)
		}
		if err := tx.DeleteSnooze(ctx, id); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "snooze_removed", "snooze "+strconv.FormatInt(id, 10), map[string]any{"matchers": sn.MatchersString()})
	})
	if err == nil {
		s.inboxMoved()
	}
	return err
}

// Snoozes lists the snoozes holding now, soonest ending first.
func (s *Service) Snoozes(ctx context.Context, p auth.Principal) ([]*alert.Snooze, error) {
	if err := require(p, auth.ReadAll, "read snoozes"); err != nil {
		return nil, err
	}
	now := s.Now()
	var list []*alert.Snooze
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { list, err = tx.Snoozes(ctx, now); return err })
	out := list[:0:0]
	for _, sn := range list {
		if sn.Active(now) {
			out = append(out, sn)
		}
	}
	return out, err
}

// InboxWaiting counts the firing alerts that wait in the inbox (in no
// incident, not dismissed), from the counts intake keeps.
func (s *Service) InboxWaiting(ctx context.Context, p auth.Principal) (int64, error) {
	if err := require(p, auth.ReadAll, "read alerts"); err != nil {
		return 0, err
	}
	var n int64
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { n, err = tx.InboxFiring(ctx); return err })
	return n, err
}

// addRunbookLinks gives incident number a runbook link for each runbook
// of recs it has no link to yet. The links and their events are internal:
// they come from alert content.
func (s *Service) addRunbookLinks(ctx context.Context, tx *store.Tx, number int64, recs []*alert.Record, actor string, now time.Time) error {
	var urls []string
	for _, r := range recs {
		for _, u := range runbooksOf(r) {
			if !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
		}
	}
	for _, u := range urls {
		has, err := tx.HasLinkURL(ctx, number, incident.LinkRunbook, u)
		if err != nil || has {
			if err != nil {
				return err
			}
			continue
		}
		// Internal: alert content never reaches a viewer unless a
		// responder makes the link public.
		l := &incident.Link{Incident: number, Kind: incident.LinkRunbook, URL: u, Visibility: incident.Internal, CreatedBy: actor, CreatedAt: now}
		if err := tx.InsertLink(ctx, l); err != nil {
			return err
		}
		err = s.record(ctx, tx, nil, &incident.Event{Incident: number, At: now, Actor: actor, Kind: incident.EventLinkAdded, Internal: true,
			Data: map[string]any{"link": l.ID, "kind": l.Kind, "url": l.URL, "title": "", "visibility": l.Visibility, "from_alert": true}})
		if err != nil {
			return err
		}
	}
	return nil
}

// runbooksOf lists an alert's runbook URLs: its runbook links (the
// adapters turn a runbook_url annotation into one) and a runbook_url
// annotation an adapter left as it is.
func runbooksOf(r *alert.Record) []string {
	var out []string
	add := func(raw string) {
		if raw == "" {
			return
		}
		u, err := incident.CheckURL(raw)
		if err != nil {
			return
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for _, l := range r.Links {
		if l.Kind == alert.LinkRunbook {
			add(l.URL)
		}
	}
	add(r.Annotations["runbook_url"])
	return out
}
