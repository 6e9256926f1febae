// Package jobs runs Quench's background loops. Each loop is safe to run on
// every replica at once: its work is idempotent and done in transactions;
// the outbox leases rows, and the periodic jobs run on one replica at a
// time under a lease (Leases).
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
// failures every interval until ctx ends, on one replica at a time (the
// holder of the "retention" lease), and closes this replica's counted
// audit rows in between.
func Retention(ctx context.Context, svc *service.Service, log *slog.Logger, leases *Leases, every time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		leases.Run(ctx, "retention", every, func(ctx context.Context) error {
			r, err := svc.Cleanup(ctx)
			if err == nil && r.Sessions+r.Deliveries+r.AuditEntries+r.Messages+r.Snoozes+r.SigninFailures > 0 {
				log.Info("retention", "sessions_removed", r.Sessions, "deliveries_removed", r.Deliveries, "audit_entries_removed", r.AuditEntries,
					"messages_removed", r.Messages, "signin_failures_removed", r.SigninFailures, "snoozes_removed", r.Snoozes)
			}
			return err
		})
	}()
	defer func() { <-done }()
	// Counted audit rows live in each replica's memory until written.
	flush := time.NewTicker(auditFlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			svc.FlushAudit(ctx, false)
		}
	}
}
