package cli

import (
	"context"
	"fmt"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/service"
)

// heartbeatEdit changes a heartbeat on the database directly, like the
// other heartbeat commands; the service computes its deadline again from
// the last ping.
func heartbeatEdit(ctx context.Context, svc *service.Service, env Env, idOrName string, e service.HeartbeatEdit) error {
	h, err := svc.EditHeartbeat(ctx, service.System, idOrName, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "heartbeat %s: a ping every %s, %s of grace, due by %s\n", h.Name, heartbeat.Format(h.Period), heartbeat.Format(h.Grace),
		h.Deadline.UTC().Format("2006-01-02 15:04:05 UTC"))
	return nil
}

// heartbeatRotate gives a heartbeat a new ping URL, printed once; the old
// one answers 404 from then on.
func heartbeatRotate(ctx context.Context, svc *service.Service, cfg config.Config, env Env, idOrName string) error {
	key, h, err := svc.RotateHeartbeat(ctx, service.System, idOrName)
	if err != nil {
		return err
	}
	u := service.HeartbeatURL(cfg.Links, key)
	fmt.Fprintf(env.Stdout, "heartbeat %s has a new ping URL; the old one answers 404 from now on\nping URL: %s   (shown once)\n", h.Name, u)
	return nil
}
