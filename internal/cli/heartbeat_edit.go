package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/service"
)

// heartbeatEditCmd changes a heartbeat or rotates its ping URL on the
// database directly, like the other heartbeat commands: "edit ID|NAME
// [--name N] [--period P] [--grace G] [--label k=v]… [--no-labels]" or
// "rotate ID|NAME". args starts with the subcommand.
func heartbeatEditCmd(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) == 0 || args[0] != "edit" && args[0] != "rotate" {
		return usageErr("heartbeat edit ID|NAME [--name N] [--period P] [--grace G] [--label k=v]… [--no-labels] | heartbeat rotate ID|NAME")
	}
	fs := flag.NewFlagSet("heartbeat "+args[0], flag.ContinueOnError)
	name := fs.String("name", "", "a new name")
	period := fs.String("period", "", "a new period, e.g. 10m, 1h, 1d; the deadline is computed again from the last ping")
	grace := fs.String("grace", "", "a new grace")
	labels := labelFlags{}
	fs.Var(labels, "label", "a label of its alert, name=value (repeat for more; replaces all labels)")
	noLabels := fs.Bool("no-labels", false, "remove every label")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if args[0] == "rotate" {
		if len(pos) != 1 || fs.NFlag() > 0 {
			return usageErr("heartbeat rotate ID|NAME")
		}
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			key, h, err := svc.RotateHeartbeat(ctx, service.System, pos[0])
			if err != nil {
				return err
			}
			u := service.HeartbeatURL(cfg.BaseURL, key)
			fmt.Fprintf(env.Stdout, "heartbeat %s has a new ping URL; the old one answers 404 from now on\nping URL: %s   (shown once)\n", h.Name, u)
			return nil
		})
	}
	if len(pos) != 1 {
		return usageErr("heartbeat edit ID|NAME [--name N] [--period P] [--grace G] [--label k=v]… [--no-labels]")
	}
	var e service.HeartbeatEdit
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			e.Name = name
		case "period":
			e.Period = period
		case "grace":
			e.Grace = grace
		}
	})
	if len(labels) > 0 && *noLabels {
		return usageErr("heartbeat edit: --label and --no-labels exclude each other")
	}
	if len(labels) > 0 {
		e.Labels = labels
	} else if *noLabels {
		e.Labels = map[string]string{}
	}
	return withService(ctx, cfg, env, func(svc *service.Service) error {
		h, err := svc.EditHeartbeat(ctx, service.System, pos[0], e)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "heartbeat %s: a ping every %s, %s of grace, due by %s\n", h.Name, heartbeat.Format(h.Period), heartbeat.Format(h.Grace),
			h.Deadline.UTC().Format("2006-01-02 15:04:05 UTC"))
		return nil
	})
}
