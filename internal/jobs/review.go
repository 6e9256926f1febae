package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// ReviewAgenda sends the weekly review's agenda to the team's channels an
// hour before the review day's meeting: it looks every interval until ctx
// ends. Every replica may run it; the service sends each meeting's agenda
// once.
func ReviewAgenda(ctx context.Context, svc *service.Service, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if sent, err := svc.SendDueAgenda(ctx); err != nil && ctx.Err() == nil {
			log.Warn("review agenda not sent", "err", err)
		} else if sent {
			log.Info("review agenda queued for the team's channels")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
