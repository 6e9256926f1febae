package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// sessionCmd lists and ends browser sessions on the database directly.
func sessionCmd(fs *pflag.FlagSet) runner {
	user := fs.String("user", "", "only this user's sessions")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			switch args[0] {
			case "list":
				list, err := svc.Sessions(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tVIA\tSIGNED IN\tLAST USED\tFROM")
				for _, s := range list {
					if *user != "" && s.Username != *user {
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Username, s.Via, s.CreatedAt.Local().Format(time.DateTime),
						s.LastSeenAt.Local().Format(time.DateTime), s.Remote)
				}
				return tw.Flush()
			case "revoke":
				if len(pos) != 1 {
					return usageErr("session revoke ID")
				}
				if err := svc.RevokeSession(ctx, service.System, pos[0], service.Client{Remote: "cli"}); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "session %s ended\n", pos[0])
				return nil
			}
			return usageErr("unknown session command %q", args[0])
		})
	}
}

// auditCmd prints the audit log, newest first.
func auditCmd(fs *pflag.FlagSet) runner {
	limit := fs.Int("limit", 50, "how many entries")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			list, err := svc.Audit(ctx, service.System, *limit, 0)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(env.Stdout)
				for _, e := range list {
					enc.Encode(e)
				}
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tACTOR\tACTION\tTARGET\tFROM")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Actor, e.Action, e.Target, e.Remote)
			}
			return tw.Flush()
		})
	}
}
