package service

import (
	"context"
	"strconv"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// UnackAlerts takes acknowledgements back: nobody is on the alerts any
// more. Every named alert must be acknowledged; otherwise nothing changes
// (409 not_acknowledged), so a stale page cannot clear someone else's
// later acknowledgement by accident of a double click.
func (s *Service) UnackAlerts(ctx context.Context, p auth.Principal, ids []int64) ([]*alert.Record, error) {
	if err := require(p, auth.WriteIncidents, "take back acknowledgements"); err != nil {
		return nil, err
	}
	var out []*alert.Record
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		list, err := triageAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		prior := map[string]any{}
		for _, r := range list {
			if !r.Acked() {
				return problem.New(problem.Conflict, "not_acknowledged", "alert %d is not acknowledged", r.ID).With("alert", r.ID)
			}
		}
		for _, r := range list {
			prior[strconv.FormatInt(r.ID, 10)] = r.AckedBy
			r.AckedBy, r.AckedAt = "", time.Time{}
			if err := tx.SaveTriage(ctx, r.ID, r.Triage); err != nil {
				return err
			}
		}
		out = list
		return s.auditBy(ctx, tx, p, "alerts_unacknowledged", idList(ids), map[string]any{"acked_by": prior})
	})
	if err == nil {
		s.inboxMoved()
	}
	return out, err
}

// RestoreAlerts takes dismissals back: the alerts wait in the inbox again
// (and count there while they fire). Every named alert must be dismissed;
// otherwise nothing changes (409 not_dismissed).
func (s *Service) RestoreAlerts(ctx context.Context, p auth.Principal, ids []int64) ([]*alert.Record, error) {
	if err := require(p, auth.WriteIncidents, "restore alerts"); err != nil {
		return nil, err
	}
	var out []*alert.Record
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		list, err := triageAlerts(ctx, tx, ids)
		if err != nil {
			return err
		}
		for _, r := range list {
			if !r.Dismissed() {
				return problem.New(problem.Conflict, "not_dismissed", "alert %d is not dismissed", r.ID).With("alert", r.ID)
			}
		}
		now := s.Now()
		counts := newCountChanges()
		reasons := map[string]any{}
		for _, r := range list {
			before := *r
			reasons[strconv.FormatInt(r.ID, 10)] = r.DismissReason
			r.DismissedBy, r.DismissedAt, r.DismissReason = "", time.Time{}, ""
			if err := tx.SaveTriage(ctx, r.ID, r.Triage); err != nil {
				return err
			}
			counts.move(&before, r)
		}
		if err := counts.write(ctx, tx, s, p.Name(), now); err != nil {
			return err
		}
		out = list
		return s.auditBy(ctx, tx, p, "alerts_restored", idList(ids), map[string]any{"dismiss_reasons": reasons})
	})
	if err == nil {
		s.inboxMoved()
	}
	return out, err
}
