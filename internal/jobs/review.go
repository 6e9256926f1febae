package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// ReviewAgenda sends the weekly review's agenda to the team's channels an
// hour before the review day's meeting: it looks every interval until ctx
// ends, on the replica that holds the "review-agenda" lease. The service
// sends each meeting's agenda once whoever looks.
func ReviewAgenda(ctx context.Context, svc *service.Service, log *slog.Logger, leases *Leases, every time.Duration) {
	leases.Run(ctx, "review-agenda", every, func(ctx context.Context) error {
		sent, err := svc.SendDueAgenda(ctx)
		if sent {
			log.Info("review agenda queued for the team's channels")
		}
		return err
	})
}
