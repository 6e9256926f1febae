// Package jobs runs Quench's background loops. Each loop is safe to run on
// every replica at once: its work is idempotent and done in transactions.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// auditFlushEvery is how soon after a throttle window ends its counted
// audit row gets its final count when no sign-in comes to notice it.
const auditFlushEvery = time.Minute

// Retention removes expired sessions, old delivery ids and old sign-in
// failures every interval until ctx ends, and closes counted audit rows in
// between.
func Retention(ctx context.Context, svc *service.Service, log *slog.Logger, every time.Duration) {
	cleanup := func() {
		r, err := svc.Cleanup(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("retention failed", "err", err)
		case r.Sessions+r.Deliveries+r.AuditEntries+r.Messages+r.Snoozes > 0:
			log.Info("retention", "sessions_removed", r.Sessions, "deliveries_removed", r.Deliveries, "audit_entries_removed", r.AuditEntries,
				"messages_removed", r.Messages, "snoozes_removed", r.Snoozes)
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	flush := time.NewTicker(auditFlushEvery)
	defer flush.Stop()
	cleanup()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			svc.FlushAudit(ctx, false)
		case <-t.C:
			cleanup()
		}
	}
}
