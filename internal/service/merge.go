package service

import (
	"context"
	"errors"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// cleanReason trims and bounds the reason of a merge or a cancel.
func cleanReason(reason string) (string, error) {
	reason = text.Clean(strings.TrimSpace(reason), 0)
	if len(reason) > incident.MaxReasonBytes {
		return "", problem.Unprocessablef("reason is longer than %d bytes", incident.MaxReasonBytes)
	}
	return reason, nil
}

// MergeResult is what a merge did.
type MergeResult struct {
	Incident *incident.Incident // the duplicate, now merged
	Target   *incident.Incident
	Moved    store.Moved
}

// MergeIncident merges number, a duplicate, into into: its alerts, links,
// checklist items and attachments move to into, its updates stay readable
// on it, both timelines record the merge, and it leaves the board. It is
// one transaction: all of it happens or none.
func (s *Service) MergeIncident(ctx context.Context, p auth.Principal, number, into int64, reason string) (*MergeResult, error) {
	if err := require(p, auth.WriteIncidents, "merge incidents"); err != nil {
		return nil, err
	}
	reason, err := cleanReason(reason)
	if err != nil {
		return nil, err
	}
	if into <= 0 {
		return nil, problem.Unprocessablef("into must be the number of the incident to merge into")
	}
	var r MergeResult
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		// Lock in number order, so two merges of the same pair in
		// opposite directions cannot deadlock on PostgreSQL.
		first, second := number, into
		if first > second {
			first, second = second, first
		}
		locked := map[int64]*incident.Incident{}
		for _, n := range []int64{first, second} {
			if _, ok := locked[n]; ok {
				continue
			}
			inc, err := visibleIncident(ctx, tx, n, false, true)
			if err != nil {
				return err
			}
			locked[n] = inc
		}
		src, dst := locked[number], locked[into]
		if err := incident.DecideMerge(src, dst, reason); err != nil {
			return err
		}
		now := s.Now()
		moved, err := tx.MoveChildren(ctx, number, into)
		if err != nil {
			return err
		}
		from := src.Phase
		incident.End(src, incident.Merged, into, reason, now)
		src.MergedIntoConfidential = dst.Confidential()
		if err := tx.SaveIncidentEnded(ctx, src, from, "", false); err != nil {
			return endConflict(err, number)
		}
		dst.UpdatedAt = now
		if err := tx.SaveIncident(ctx, dst, dst.Phase, false); err != nil {
			return endConflict(err, into)
		}
		// Viewers of a public duplicate merged into a confidential
		// incident read "merged" on its page and nothing of the target:
		// the event naming it is the team's.
		if err := s.record(ctx, tx, src, &incident.Event{Incident: number, At: src.EndedAt, Actor: p.Name(), Kind: incident.EventMerged,
			Internal: dst.Confidential(), Data: map[string]any{"into": into, "from": from, "reason": reason}}); err != nil {
			return err
		}
		if err := s.record(ctx, tx, dst, &incident.Event{Incident: into, At: now, Actor: p.Name(), Kind: incident.EventMergedFrom,
			Internal: src.Confidential(), Data: map[string]any{"from": number, "reason": reason, "alerts": moved.Alerts,
				"links": moved.Links, "checklist_items": moved.ChecklistItems, "attachments": moved.Attachments}}); err != nil {
			return err
		}
		r = MergeResult{Incident: src, Target: dst, Moved: moved}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: incident.EventMerged, Public: !r.Incident.Confidential()})
	s.publish(Change{Incident: into, Kind: incident.EventMergedFrom, Public: !r.Target.Confidential()})
	return &r, nil
}

// CancelIncident ends an active or mitigated incident as a false alarm,
// with a reason. It can be reopened (to active, with a reason) if it turns
// out to be real.
func (s *Service) CancelIncident(ctx context.Context, p auth.Principal, number int64, reason string) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, "cancel incidents"); err != nil {
		return nil, err
	}
	reason, err := cleanReason(reason)
	if err != nil {
		return nil, err
	}
	var inc *incident.Incident
	err = s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		if err := incident.DecideCancel(inc, reason); err != nil {
			return err
		}
		now := s.Now()
		incident.End(inc, incident.Cancelled, 0, reason, now)
		if err := tx.SaveIncidentEnded(ctx, inc, inc.Phase, "", false); err != nil {
			return endConflict(err, number)
		}
		return s.record(ctx, tx, inc, &incident.Event{Incident: number, At: inc.EndedAt, Actor: p.Name(), Kind: incident.EventCancelled,
			Data: map[string]any{"from": inc.Phase, "reason": reason}})
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: incident.EventCancelled, Public: !inc.Confidential()})
	return inc, nil
}

func endConflict(err error, number int64) error {
	if errors.Is(err, store.ErrConflict) {
		return problem.New(problem.Conflict, "incident_changed", "incident #%d changed meanwhile; reload and try again", number)
	}
	return err
}

// notMerged refuses new children (what) on a merged incident: they
// belong to the incident it was merged into, where its children went.
func notMerged(inc *incident.Incident, what string) error {
	if inc.EndState == incident.Merged {
		return problem.New(problem.Conflict, "incident_merged",
			"incident #%d was merged into #%d; add %s there", inc.Number, inc.MergedInto, what).With("end_state", inc.EndState)
	}
	return nil
}
