package service

import (
	"context"
	"time"

	"github.com/quenchhq/quench/internal/store"
)

// Retention: ended sessions are kept a week for the account page and the
// audit trail's context, then removed; Sentry delivery ids for 7 days.
const (
	keepEndedSessions = 7 * 24 * time.Hour
	keepDeliveries    = 7 * 24 * time.Hour
)

// Cleanup removes expired sessions and old delivery ids; it returns how
// many rows went.
func (s *Service) Cleanup(ctx context.Context) (sessions, deliveries int64, err error) {
	now := s.Now()
	err = s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if sessions, err = tx.DeleteExpiredSessions(ctx, now.Add(-keepEndedSessions)); err != nil {
			return err
		}
		deliveries, err = tx.DeleteDeliveriesBefore(ctx, now.Add(-keepDeliveries))
		return err
	})
	return sessions, deliveries, err
}
