// Package jobs runs Quench's background loops. Each loop is safe to run on
// every replica at once: its work is idempotent and done in transactions.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// Retention removes expired sessions and old delivery ids every interval
// until ctx ends.
func Retention(ctx context.Context, svc *service.Service, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sessions, deliveries, err := svc.Cleanup(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("retention failed", "err", err)
		case sessions+deliveries > 0:
			log.Info("retention", "sessions_removed", sessions, "deliveries_removed", deliveries)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
