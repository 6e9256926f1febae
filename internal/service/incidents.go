package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// OpenIncident opens a new incident in phase active.
func (s *Service) OpenIncident(ctx context.Context, p auth.Principal, d incident.Draft) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "open incidents"); err != nil {
		return nil, err
	}
	if err := d.Normalize(); err != nil {
		return nil, err
	}
	d.Owners = ownByDefault(p, d.Owners)
	now := s.Now()
	inc := &incident.Incident{
		Title: d.Title, Summary: d.Summary, Severity: d.Severity, Services: d.Services, Labels: d.Labels,
		DetectionSource: d.DetectionSource, Visibility: d.Visibility, Phase: incident.Active,
		Owners: d.Owners, EnteredAt: map[incident.Phase]time.Time{incident.Active: now}, Notes: map[incident.Phase]string{},
		CreatedBy: p.Name(), CreatedAt: now, UpdatedAt: now,
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := s.insertIncident(ctx, tx, inc, nil); err != nil {
			return err
		}
		return s.addTemplateItems(ctx, tx, inc, d.Template)
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: inc.Number, Kind: incident.EventCreated, Public: !inc.Confidential()})
	return inc, nil
}

// ownByDefault makes whoever opens an incident by hand the owner of its
// active phase, unless they named an owner (or "" for nobody).
func ownByDefault(p auth.Principal, owners map[incident.Phase]string) map[incident.Phase]string {
	out := map[incident.Phase]string{}
	// System (maintenance commands, rules) is nobody to own anything.
	if _, chosen := owners[incident.Active]; !chosen && p.Name() != "" && p.User != System.User {
		out[incident.Active] = p.Name()
	}
	for ph, who := range owners {
		if who != "" {
			out[ph] = who
		}
	}
	return out
}

// insertIncident numbers and stores a new incident with its "created"
// event; extra adds to the event's data.
func (s *Service) insertIncident(ctx context.Context, tx *store.Tx, inc *incident.Incident, extra map[string]any) error {
	return s.insertIncidentWithAlerts(ctx, tx, inc, extra, store.AlertCounts{})
}

// insertIncidentWithAlerts is insertIncident for an incident whose alert
// counts start at c: the alert intake opens it for.
func (s *Service) insertIncidentWithAlerts(ctx context.Context, tx *store.Tx, inc *incident.Incident, extra map[string]any, c store.AlertCounts) error {
	n, err := tx.NextIncidentNumber(ctx)
	if err != nil {
		return err
	}
	inc.Number = n
	if err := s.autoPublish(ctx, tx, inc); err != nil {
		return err
	}
	if err := tx.InsertIncidentWithAlerts(ctx, inc, c); err != nil {
		return err
	}
	data := map[string]any{"title": inc.Title, "severity": inc.Severity, "visibility": inc.Visibility}
	if inc.OnStatusPage {
		data["on_status_page"] = true
	}
	for k, v := range extra {
		data[k] = v
	}
	return s.record(ctx, tx, inc, &incident.Event{Incident: n, At: inc.CreatedAt, Actor: inc.CreatedBy, Kind: incident.EventCreated, Data: data})
}

// Incident reads one incident p may see.
func (s *Service) Incident(ctx context.Context, p auth.Principal, number int64) (*incident.Incident, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err = s.store.Read(ctx, func(tx *store.Tx) (err error) {
		inc, err = visibleIncident(ctx, tx, number, publicOnly, false)
		return err
	})
	return inc, err
}

// IncidentPage is one page of a filtered list.
type IncidentPage struct {
	Incidents []*incident.Incident
	Total     int
}

// MaxPageSize caps list pages.
const MaxPageSize = 500

// Incidents lists incidents p may see.
func (s *Service) Incidents(ctx context.Context, p auth.Principal, q IncidentQuery) (*IncidentPage, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, err
	}
	f := q.filter(publicOnly)
	if f.Limit > MaxPageSize {
		f.Limit = MaxPageSize
	}
	if _, ok := store.SortOrders[f.Sort]; !ok {
		return nil, problem.Invalidf("unknown sort %q", f.Sort)
	}
	var page IncidentPage
	err = s.store.Read(ctx, func(tx *store.Tx) (err error) {
		page.Incidents, page.Total, err = tx.Incidents(ctx, f)
		return err
	})
	return &page, err
}

// UpdateIncident changes an incident's fields and records what changed.
// Nothing changed means nothing written and no event.
func (s *Service) UpdateIncident(ctx context.Context, p auth.Principal, number int64, patch incident.Patch) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "change incidents"); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	var changes map[string]incident.Change
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		oldServices := slices.Clone(inc.Services)
		if changes, err = incident.ApplyPatch(inc, patch); err != nil || len(changes) == 0 {
			return err
		}
		if err := s.publication(ctx, tx, inc, patch, changes); err != nil {
			return err
		}
		inc.UpdatedAt = s.Now()
		if err := tx.SaveIncident(ctx, inc, inc.Phase, !slices.Equal(oldServices, inc.Services)); err != nil {
			return err
		}
		data := make(map[string]any, len(changes))
		for k, c := range changes {
			data[k] = c
		}
		return s.record(ctx, tx, inc, &incident.Event{Incident: number, At: inc.UpdatedAt, Actor: p.Name(), Kind: incident.EventChanged, Data: data})
	})
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		_, visChanged := changes["visibility"]
		s.publish(Change{Incident: number, Kind: incident.EventChanged, Public: !inc.Confidential() || visChanged})
	}
	return inc, nil
}

// Transition moves an incident to the next phase, or reopens it, under the
// lifecycle rules of package incident.
func (s *Service) Transition(ctx context.Context, p auth.Principal, number int64, req incident.TransitionRequest) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "move incidents between phases"); err != nil {
		return nil, err
	}
	req.Note = text.Clean(strings.TrimSpace(req.Note), 0)
	req.Reason = text.Clean(strings.TrimSpace(req.Reason), 0)
	req.DetectionImprovement = text.Clean(strings.TrimSpace(req.DetectionImprovement), 0)
	for name, v := range map[string]string{"note": req.Note, "reason": req.Reason, "detection_improvement": req.DetectionImprovement} {
		if len(v) > incident.MaxNoteBytes {
			return nil, problem.Unprocessablef("%s is longer than %d bytes", name, incident.MaxNoteBytes)
		}
	}
	var inc *incident.Incident
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		items, err := tx.Checklist(ctx, number)
		if err != nil {
			return err
		}
		open := openItems(items, inc.Phase)
		move, err := incident.Decide(inc, open, req)
		if err != nil {
			return err
		}
		from, fromEnd := inc.Phase, inc.EndState
		incident.Apply(inc, move, req, s.Now())
		if err := tx.SaveIncidentEnded(ctx, inc, from, fromEnd, false); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return problem.New(problem.Conflict, "phase_skip", "incident #%d left phase %s meanwhile; reload and try again", number, from)
			}
			return err
		}
		ev := &incident.Event{Incident: number, At: inc.UpdatedAt, Actor: p.Name(), Data: map[string]any{"from": from, "to": req.To}}
		if fromEnd != "" {
			ev.Data["from"] = fromEnd
		}
		if move == incident.Reopen {
			ev.Kind = incident.EventReopened
			ev.Data["reason"] = req.Reason
		} else {
			ev.Kind = incident.EventTransitioned
			ev.Data["note"] = req.Note
			if len(open) > 0 {
				texts := make([]string, len(open))
				for i, it := range open {
					texts[i] = it.Text
				}
				ev.Data["override"] = true
				ev.Data["open_items"] = texts
			}
			if req.To == incident.Closed && req.DetectionImprovement != "" {
				ev.Data["detection_improvement"] = req.DetectionImprovement
			}
		}
		return s.record(ctx, tx, inc, ev)
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: incident.EventTransitioned, Public: !inc.Confidential()})
	return inc, nil
}

// openItems lists the items of phase ph that are not done.
func openItems(items []*incident.ChecklistItem, ph incident.Phase) []incident.ChecklistItem {
	var out []incident.ChecklistItem
	for _, it := range items {
		if it.Phase == ph && !it.Done {
			out = append(out, *it)
		}
	}
	return out
}

// Timeline lists the incident's history as p may see it.
func (s *Service) Timeline(ctx context.Context, p auth.Principal, number int64) ([]*incident.TimelineEntry, error) {
	return readChild(s, ctx, p, number, func(tx *store.Tx, publicOnly bool) ([]*incident.TimelineEntry, error) {
		entries, err := tx.Timeline(ctx, number, publicOnly)
		if err != nil || !publicOnly {
			return entries, err
		}
		items, err := tx.Checklist(ctx, number)
		if err != nil {
			return nil, err
		}
		links, err := tx.Links(ctx, number)
		return publicTimeline(entries, items, links), err
	})
}
