package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// integrationCmd manages integrations on the database directly, like user
// and token: the operator sets up senders from the server's shell.
func integrationCmd(fs *pflag.FlagSet) runner {
	typ := fs.String("type", "", "alertmanager, grafana, sentry or generic")
	name := fs.String("name", "", "name, e.g. the Alertmanager's cluster")
	secret := fs.String("secret", "", "Sentry client secret, or Grafana HMAC secret")
	secretFile := fs.String("secret-file", "", "file holding the Sentry client secret or Grafana HMAC secret (update)")
	severity := fs.String("severity", "critical", "severity label of the test alert (test)")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			switch args[0] {
			case "add":
				if *typ == "" || *name == "" || len(pos) > 0 {
					return usageErr("integration add --type alertmanager|grafana|sentry|generic --name NAME [--secret S]")
				}
				token, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: *typ, Name: *name, Secret: *secret})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "integration %s (%s) created\nURL:   %s\n", in.Name, in.Type, service.IntakeURL(cfg.Links, in))
				if token != "" {
					fmt.Fprintf(env.Stdout, "token: %s   (shown once)\n", token)
				}
				fmt.Fprintf(env.Stdout, "\n%s", service.Snippet(cfg.Links, in, token))
				return nil
			case "list":
				list, err := svc.Integrations(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tNAME\tLAST ALERT\tURL")
				for _, in := range list {
					last := "never"
					if !in.LastAlertAt.IsZero() {
						last = in.LastAlertAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.ID, in.Type, in.Name, last, service.IntakeURL(cfg.Links, in))
				}
				return tw.Flush()
			case "update":
				if len(pos) != 1 || *secretFile == "" {
					return usageErr("integration update ID --secret-file FILE")
				}
				b, err := os.ReadFile(*secretFile)
				if err != nil {
					return err
				}
				in, err := svc.SetIntegrationSecret(ctx, service.System, pos[0], string(b))
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "integration %s (%s): signing secret set\n", in.Name, in.Type)
				return nil
			case "test":
				if len(pos) != 1 {
					return usageErr("integration test ID|NAME [--severity critical|warning]")
				}
				id, err := integrationID(ctx, svc, pos[0])
				if err != nil {
					return err
				}
				res, a, err := svc.TestIntegration(ctx, service.System, id, *severity)
				if err != nil {
					return err
				}
				where := "it waits in the inbox"
				switch {
				case len(res.Opened) > 0:
					where = fmt.Sprintf("the rules opened incident #%d (titled [test])", res.Opened[0])
				case len(res.Attached) > 0:
					where = fmt.Sprintf("it joined incident #%d", res.Attached[0])
				}
				fmt.Fprintf(env.Stdout, "test alert %s (severity %s, %s=\"true\") sent through the intake and the rules: %s\n",
					a.Fingerprint, a.Labels["severity"], service.TestLabel, where)
				return nil
			case "remove":
				if len(pos) != 1 {
					return usageErr("integration remove ID")
				}
				if err := svc.DeleteIntegration(ctx, service.System, pos[0]); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "integration %s removed; its URL no longer accepts alerts\n", pos[0])
				return nil
			}
			return usageErr("unknown integration command %q", args[0])
		})
	}
}

func ruleCmd(fs *pflag.FlagSet) runner {
	matchers := fs.String("match", "", `label matchers, e.g. 'severity=~"critical|page", team="ci"' (empty: every alert)`)
	action := fs.String("action", "", "open, attach or inbox")
	position := fs.Int("position", 100, "rules apply in ascending position; the defaults sit at 10 and 1000")
	name := fs.String("name", "", "what the rule is for")
	integration := fs.String("integration", "", "only alerts of this integration ID")
	severity := fs.String("severity", "", "severity of opened incidents (default: from the severity label)")
	visibility := fs.String("visibility", "", "public or confidential for opened incidents")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		return withService(ctx, cfg, env, func(svc *service.Service) error {
			switch args[0] {
			case "add":
				if *action == "" || len(pos) > 0 {
					return usageErr("rule add --action open|attach|inbox [--match MATCHERS] [--position N] [--name TEXT]")
				}
				r, err := svc.CreateRule(ctx, service.System, service.NewRule{Position: *position, Name: *name, Matchers: *matchers,
					Action: alert.Action(*action), Integration: *integration, Severity: *severity, Visibility: *visibility})
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "rule %d added at position %d: %s\n", r.ID, r.Position, r.Name)
				return nil
			case "list":
				rules, err := svc.Rules(ctx, service.System)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPOSITION\tACTION\tMATCHERS\tNAME")
				for _, r := range rules {
					m := r.MatchersString()
					if m == "" {
						m = "(every alert)"
					}
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", r.ID, r.Position, r.Action, m, r.Name)
				}
				return tw.Flush()
			case "remove":
				if len(pos) != 1 {
					return usageErr("rule remove ID")
				}
				id, err := strconv.ParseInt(pos[0], 10, 64)
				if err != nil {
					return usageErr("rule ID must be a number")
				}
				if err := svc.DeleteRule(ctx, service.System, id); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "rule %d removed\n", id)
				return nil
			}
			return usageErr("unknown rule command %q", args[0])
		})
	}
}

// alertCmd works the alert inbox through the API.
func alertCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	status := fs.String("status", "", "firing or resolved")
	unattached := fs.Bool("unattached", false, "only alerts in no incident")
	match := fs.String("match", "", "label matchers")
	limit := fs.Int("limit", 100, "how many")
	title := fs.String("title", "", "incident title (default: the first alert's)")
	severity := fs.String("severity", "", "incident severity")
	dismissed := fs.String("dismissed", "", "list: true (only dismissed alerts) or any (dismissed ones too)")
	reason := fs.String("reason", "", "dismiss: why this is not an incident; snooze: why")
	span := fs.String("for", "", "snooze: how long, e.g. 90m, 2h, 3d")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		ids := func(from []string) ([]int64, error) {
			var out []int64
			for _, s := range from {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil || id <= 0 {
					return nil, usageErr("%q is not an alert ID", s)
				}
				out = append(out, id)
			}
			return out, nil
		}
		switch args[0] {
		case "list":
			q := url.Values{"limit": {strconv.Itoa(*limit)}}
			if *status != "" {
				q.Set("status", *status)
			}
			if *unattached {
				q.Set("unattached", "true")
			}
			if *match != "" {
				q.Set("match", *match)
			}
			if *dismissed != "" {
				q.Set("dismissed", *dismissed)
			}
			var page struct {
				Alerts  []api.AlertJSON `json:"alerts"`
				Waiting int64           `json:"waiting"`
			}
			if err := c.do(ctx, "GET", "/api/v1/alerts?"+q.Encode(), nil, out.raw(&page)); err != nil {
				return err
			}
			return out.done(func() {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATUS\tINCIDENT\tSEVERITY\tLAST SEEN\tTRIAGE\tTITLE")
				for _, a := range page.Alerts {
					inc := "inbox"
					if a.Incident != 0 {
						inc = "#" + strconv.FormatInt(a.Incident, 10)
					}
					triage := "-"
					switch {
					case a.DismissedBy != "":
						triage = "dismissed by " + a.DismissedBy
					case a.AckedBy != "":
						triage = "acked by " + a.AckedBy
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, inc, a.Labels["severity"], since(a.LastSeen), triage, a.Title)
				}
				tw.Flush()
				fmt.Fprintf(env.Stdout, "%d firing alert(s) wait in the inbox\n", page.Waiting)
				// A group Alertmanager cut with max_alerts: say so once.
				told := map[string]bool{}
				for _, a := range page.Alerts {
					if a.Truncated > 0 && !told[a.GroupKey] {
						told[a.GroupKey] = true
						fmt.Fprintf(env.Stdout, "note: the sender left out %d more alerts of group %s (max_alerts)\n", a.Truncated, a.GroupKey)
					}
				}
			})
		case "declare":
			list, err := ids(pos)
			if err != nil || len(list) == 0 {
				return usageErr("alert declare ID [ID…] [--title T] [--severity S]")
			}
			body := map[string]any{"alerts": list[1:], "title": *title, "severity": *severity}
			if err := c.do(ctx, "POST", fmt.Sprintf("/api/v1/alerts/%d/declare", list[0]), body, out.target()); err != nil {
				return err
			}
			return out.done(func() { fmt.Fprintf(env.Stdout, "declared #%d: %s\n%s\n", out.inc.Number, out.inc.Title, out.inc.URL) })
		case "attach":
			if len(pos) < 2 {
				return usageErr("alert attach INCIDENT ID [ID…]")
			}
			list, err := ids(pos[1:])
			if err != nil {
				return err
			}
			n := strings.TrimPrefix(pos[0], "#")
			if err := c.do(ctx, "POST", "/api/v1/incidents/"+url.PathEscape(n)+"/alerts", map[string]any{"alerts": list}, out.target()); err != nil {
				return err
			}
			return out.done(func() { fmt.Fprintf(env.Stdout, "attached %d alert(s) to #%d\n", len(list), out.inc.Number) })
		case "unack", "restore":
			list, err := ids(pos)
			if err != nil || len(list) == 0 {
				return usageErr("alert unack ID [ID…] | alert restore ID [ID…]")
			}
			return alertUndo(ctx, c, out, args[0], list)
		case "ack", "dismiss":
			list, err := ids(pos)
			if err != nil || len(list) == 0 || args[0] == "dismiss" && strings.TrimSpace(*reason) == "" {
				return usageErr("alert ack ID [ID…] | alert dismiss ID [ID…] --reason TEXT")
			}
			body := map[string]any{"alerts": list}
			if args[0] == "dismiss" {
				body["reason"] = *reason
			}
			var res struct {
				Alerts []api.AlertJSON `json:"alerts"`
			}
			if err := c.do(ctx, "POST", "/api/v1/alerts/"+args[0], body, out.raw(&res)); err != nil {
				return err
			}
			return out.done(func() {
				for _, a := range res.Alerts {
					if args[0] == "ack" {
						fmt.Fprintf(env.Stdout, "alert %d acknowledged by %s\n", a.ID, a.AckedBy)
					} else {
						fmt.Fprintf(env.Stdout, "alert %d dismissed: %s\n", a.ID, a.DismissReason)
					}
				}
			})
		case "snooze":
			m := *match
			if m == "" && len(pos) == 1 {
				m = pos[0]
			} else if len(pos) > 0 {
				return usageErr("alert snooze --match MATCHERS --for DURATION [--reason TEXT]")
			}
			if m == "" || *span == "" {
				return usageErr("alert snooze --match MATCHERS --for DURATION [--reason TEXT]")
			}
			var sn api.SnoozeJSON
			if err := c.do(ctx, "POST", "/api/v1/alerts/snoozes", map[string]any{"matchers": m, "duration": *span, "reason": *reason}, out.raw(&sn)); err != nil {
				return err
			}
			return out.done(func() {
				fmt.Fprintf(env.Stdout, "snooze %d: new alerts matching %s stay in the inbox until %s\n", sn.ID, sn.Matchers, sn.EndsAt.Format(time.RFC3339))
			})
		case "snoozes":
			var page struct {
				Snoozes []api.SnoozeJSON `json:"snoozes"`
			}
			if err := c.do(ctx, "GET", "/api/v1/alerts/snoozes", nil, out.raw(&page)); err != nil {
				return err
			}
			return out.done(func() {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUNTIL\tBY\tMATCHERS\tREASON")
				for _, sn := range page.Snoozes {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", sn.ID, sn.EndsAt.Format(time.RFC3339), sn.CreatedBy, sn.Matchers, sn.Reason)
				}
				tw.Flush()
			})
		case "unsnooze":
			if len(pos) != 1 {
				return usageErr("alert unsnooze ID")
			}
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErr("%q is not a snooze ID", pos[0])
			}
			if err := c.do(ctx, "DELETE", fmt.Sprintf("/api/v1/alerts/snoozes/%d", id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "snooze %d removed\n", id)
			return nil
		}
		return usageErr("unknown alert command %q", args[0])
	}
}

// integrationID takes an integration's ID or its name.
func integrationID(ctx context.Context, svc *service.Service, idOrName string) (string, error) {
	list, err := svc.Integrations(ctx, service.System)
	if err != nil {
		return "", err
	}
	for _, in := range list {
		if in.Name == idOrName {
			return in.ID, nil
		}
	}
	return idOrName, nil
}
