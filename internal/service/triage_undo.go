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
	return s.triage(ctx, p, "take back acknowledgements", "alerts_unacknowledged", ids, func(tx *store.Tx, list []*alert.Record) (map[string]any, error) {
		for _, r := range list {
			if !r.Acked() {
				return nil, problem.New(problem.Conflict, "not_acknowledged", "alert %d is not acknowledged", r.ID).With("alert", r.ID)
			}
		}
		prior := map[string]any{}
		for _, r := range list {
			prior[strconv.FormatInt(r.ID, 10)] = r.AckedBy
			r.AckedBy, r.AckedAt = "", time.Time{}
			if err := tx.SaveTriage(ctx, r.ID, r.Triage); err != nil {
				return nil, err
			}
		}
		return map[string]any{"acked_by": prior}, nil
	})
}

// RestoreAlerts takes dismissals back: the alerts wait in the inbox again
// (and count there while they fire). Every named alert must be dismissed;
// otherwise nothing changes (409 not_dismissed).
func (s *Service) RestoreAlerts(ctx context.Context, p auth.Principal, ids []int64) ([]*alert.Record, error) {
	return s.triage(ctx, p, "restore alerts", "alerts_restored", ids, func(tx *store.Tx, list []*alert.Record) (map[string]any, error) {
		reasons := map[string]any{}
		for _, r := range list {
			if !r.Dismissed() {
				return nil, problem.New(problem.Conflict, "not_dismissed", "alert %d is not dismissed", r.ID).With("alert", r.ID)
			}
			reasons[strconv.FormatInt(r.ID, 10)] = r.DismissReason
		}
		err := s.saveTriage(ctx, tx, list, p.Name(), func(r *alert.Record) {
			r.DismissedBy, r.DismissedAt, r.DismissReason = "", time.Time{}, ""
		})
		return map[string]any{"dismiss_reasons": reasons}, err
	})
}
