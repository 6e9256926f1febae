package service

import (
	"context"
	"time"

	"github.com/quenchhq/quench/internal/store"
)

// Retention: ended sessions are kept a week for the account page and the
// audit trail's context, then removed; Sentry delivery ids for 7 days;
// failed and throttled sign-ins for 90 days (keepFailures), finished
// notifications for 30 days, the rest of the audit log for good.
const (
	keepEndedSessions = 7 * 24 * time.Hour
	keepDeliveries    = 7 * 24 * time.Hour
	// keepMessages: finished outbox messages stay 30 days, so the incident
	// page and the admin can see what was sent during the incident and
	// its review; unfinished ones stay until they finish.
	keepMessages = 30 * 24 * time.Hour
	// keepSnoozes: an ended snooze stays a week (the audit log keeps it
	// for good); it quiets nothing once ended.
	keepSnoozes = 7 * 24 * time.Hour
)

// Removed counts the rows a cleanup removed.
type Removed struct {
	Sessions, Deliveries, AuditEntries, Messages, Snoozes, SigninFailures int64
}

// Cleanup writes pending audit counts, then removes expired sessions, old
// delivery ids, old sign-in failures and those past the throttle window.
func (s *Service) Cleanup(ctx context.Context) (Removed, error) {
	s.FlushAudit(ctx, true)
	now := s.Now()
	var r Removed
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if r.Sessions, err = tx.DeleteExpiredSessions(ctx, now.Add(-keepEndedSessions)); err != nil {
			return err
		}
		if r.Deliveries, err = tx.DeleteDeliveriesBefore(ctx, now.Add(-keepDeliveries)); err != nil {
			return err
		}
		if r.Messages, err = tx.DeleteFinishedMessages(ctx, now.Add(-keepMessages)); err != nil {
			return err
		}
		if r.Snoozes, err = tx.DeleteSnoozesBefore(ctx, now.Add(-keepSnoozes)); err != nil {
			return err
		}
		if r.SigninFailures, err = tx.DeleteSigninFailuresBefore(ctx, now.Add(-throttleWindow)); err != nil {
			return err
		}
		r.AuditEntries, err = tx.DeleteAuditBefore(ctx, failureActions, now.Add(-keepFailures))
		return err
	})
	return r, err
}
