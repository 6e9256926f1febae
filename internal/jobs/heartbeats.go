package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// HeartbeatCheckEvery is how often heartbeat deadlines are checked: a
// missed heartbeat fires within this of its deadline.
const HeartbeatCheckEvery = 10 * time.Second

// Heartbeats fires the alerts of heartbeats whose deadline has passed,
// every interval until ctx ends. Deadlines are stored, so a check after a
// restart (or on another replica) fires what a stopped one missed; each
// miss is claimed in the transaction that fires it, so replicas checking
// at once fire it once.
func Heartbeats(ctx context.Context, svc *service.Service, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := svc.CheckHeartbeats(ctx); err != nil && ctx.Err() == nil {
			log.Warn("heartbeat check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
