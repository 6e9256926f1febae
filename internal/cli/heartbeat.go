package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/service"
)

// labelFlags collects repeated --label k=v.
type labelFlags map[string]string

func (l labelFlags) String() string { return "" }
func (l labelFlags) Type() string   { return "name=value" }

func (l labelFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("--label wants name=value, not %q", s)
	}
	l[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

// heartbeatCmd manages heartbeats on the database directly, like
// integrations: the operator sets them up from the server's shell.
func heartbeatCmd(fs *pflag.FlagSet) runner {
	period := fs.String("period", "", "how often a ping is expected: 1m or more, e.g. 10m, 1h, 1d")
	grace := fs.String("grace", "", "how late a ping may be (default 5m); a started run must end within it")
	labels := labelFlags{}
	fs.Var(labels, "label", "a label of its alert, name=value (repeat for more; edit: replaces all labels)")
	name := fs.String("name", "", "edit: a new name")
	noLabels := fs.Bool("no-labels", false, "edit: remove every label")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		if args[0] == "edit" {
			if len(pos) != 1 {
				return usageErr("heartbeat edit ID|NAME [--name N] [--period P] [--grace G] [--label k=v]… [--no-labels]")
			}
			if len(labels) > 0 && *noLabels {
				return usageErr("heartbeat edit: --label and --no-labels exclude each other")
			}
			var e service.HeartbeatEdit
			if fs.Changed("name") {
				e.Name = name
			}
			if fs.Changed("period") {
				e.Period = period
			}
			if fs.Changed("grace") {
				e.Grace = grace
			}
			if len(labels) > 0 {
				e.Labels = labels
			} else if *noLabels {
				e.Labels = map[string]string{}
			}
			return withService(ctx, cfg, env, func(svc *service.Service) error { return heartbeatEdit(ctx, svc, env, pos[0], e) })
		}
		if args[0] == "rotate" && (len(pos) != 1 || fs.NFlag() > 0) {
			return usageErr("heartbeat rotate ID|NAME")
		}
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			switch args[0] {
			case "rotate":
				return heartbeatRotate(ctx, svc, cfg, env, pos[0])
			case "add":
				if len(pos) != 1 || *period == "" {
					return usageErr("heartbeat add NAME --period 1h [--grace 10m] [--label k=v]…")
				}
				key, h, err := svc.CreateHeartbeat(ctx, service.System, service.NewHeartbeat{Name: pos[0], Period: *period, Grace: *grace, Labels: labels})
				if err != nil {
					return err
				}
				u := service.HeartbeatURL(cfg.Links, key)
				fmt.Fprintf(env.Stdout, "heartbeat %s created: a ping every %s, %s of grace\nping URL: %s   (shown once)\n\n%s",
					h.Name, heartbeat.Format(h.Period), heartbeat.Format(h.Grace), u, service.HeartbeatSnippet(u))
				return nil
			case "list":
				list, err := svc.Heartbeats(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSTATE\tEVERY\tGRACE\tLAST PING\tDUE BY\tLABELS")
				for _, h := range list {
					last, due := "never", "-"
					if !h.LastPingAt.IsZero() {
						last = h.LastPingAt.Local().Format(time.DateTime)
					}
					if h.State == heartbeat.Up {
						due = h.Deadline.Local().Format(time.DateTime)
					}
					var ls []string
					for k, v := range h.Labels {
						ls = append(ls, k+"="+v)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Name, h.State, heartbeat.Format(h.Period), heartbeat.Format(h.Grace),
						last, due, strings.Join(ls, ","))
				}
				return tw.Flush()
			case "remove":
				if len(pos) != 1 {
					return usageErr("heartbeat remove ID|NAME")
				}
				if err := svc.DeleteHeartbeat(ctx, service.System, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "heartbeat %s removed; its ping URL no longer works\n", pos[0])
				return nil
			}
			return usageErr("unknown heartbeat command %q", args[0])
		})
	}
}
