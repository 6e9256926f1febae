package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/notify"
)

// list is a repeatable or comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Type() string   { return "list" }
func (l *list) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// channelCmd manages notification channels through the API (an admin
// token): the same checks as the admin page, the URL guard included.
func channelCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	typ := fs.String("type", "", "slack, email or webhook")
	name := fs.String("name", "", "channel name, e.g. #ops")
	target := fs.String("url", "", "Slack incoming-webhook URL or webhook URL")
	secret := fs.String("secret", "", "webhook signing secret whsec_… (default: one is made and printed once)")
	audience := fs.String("audience", "", "team (may receive internal updates) or public (never does)")
	var recipients, events, severities, services, labels list
	fs.Var(&recipients, "to", "e-mail recipient (repeat or comma-separate)")
	fs.Var(&events, "events", "events to send (default *: every event the audience may see)")
	fs.Var(&severities, "severity", "only incidents of these severities")
	fs.Var(&services, "service", "only incidents of these services")
	fs.Var(&labels, "label", `only incidents whose labels match, e.g. 'team="db"'`)
	wait := fs.Duration("wait", 30*time.Second, "test: how long to wait for the outcome")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		switch args[0] {
		case "add":
			if *typ == "" || *name == "" || *audience == "" || len(pos) > 0 {
				return usageErr("channel add --type slack|email|webhook --name NAME --audience team|public (--url URL | --to ADDR…) [--events E,…] [--severity S] [--service S] [--label M]")
			}
			body := map[string]any{"type": *typ, "name": *name, "audience": *audience,
				"filters": notify.Filter{Severities: severities, Services: services, Labels: labels}}
			if *target != "" {
				body["url"] = *target
			}
			if len(recipients) > 0 {
				body["recipients"] = recipients
			}
			if *secret != "" {
				body["secret"] = *secret
			}
			if len(events) > 0 {
				body["events"] = events
			}
			var ch api.ChannelJSON
			if err := c.do(ctx, "POST", "/api/v1/channels", body, out.raw(&ch)); err != nil {
				return err
			}
			return out.done(func() {
				fmt.Fprintf(env.Stdout, "channel %d %q (%s, %s audience) added\n", ch.ID, ch.Name, ch.Type, ch.Audience)
				if ch.Secret != "" {
					fmt.Fprintf(env.Stdout, "signing secret: %s   (shown once; the receiver verifies webhook-signature with it)\n", ch.Secret)
				}
				fmt.Fprintf(env.Stdout, "send a test: quench channel test %d\n", ch.ID)
			})
		case "list":
			var page struct {
				Channels []api.ChannelJSON `json:"channels"`
			}
			if err := c.do(ctx, "GET", "/api/v1/channels", nil, out.raw(&page)); err != nil {
				return err
			}
			return out.done(func() {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tNAME\tAUDIENCE\tEVENTS\tTO")
				for _, ch := range page.Channels {
					to := ch.URL
					if ch.Type == string(notify.Email) {
						to = strings.Join(ch.Recipients, ", ")
					}
					evs := make([]string, len(ch.Events))
					for i, e := range ch.Events {
						evs[i] = string(e)
					}
					state := ""
					if ch.Disabled {
						state = " (disabled)"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s%s\t%s\t%s\t%s\n", ch.ID, ch.Type, ch.Name, state, ch.Audience, strings.Join(evs, ","), to)
				}
				tw.Flush()
			})
		case "test":
			if len(pos) != 1 {
				return usageErr("channel test ID")
			}
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil {
				return usageErr("channel ID must be a number")
			}
			var d api.DeliveryJSON
			if err := c.do(ctx, "POST", fmt.Sprintf("/api/v1/channels/%d/test", id), nil, &d); err != nil {
				return err
			}
			// Follow the message through the outbox until it is settled.
			deadline := time.Now().Add(*wait)
			for d.State == string(notify.Pending) || (d.State == string(notify.Failing) && d.Attempts < 3) {
				if time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
				var page struct {
					Deliveries []api.DeliveryJSON `json:"deliveries"`
				}
				q := url.Values{"channel": {strconv.FormatInt(id, 10)}, "limit": {"20"}}
				if err := c.do(ctx, "GET", "/api/v1/deliveries?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				for _, x := range page.Deliveries {
					if x.ID == d.ID {
						d = x
					}
				}
			}
			if *asJSON {
				b, _ := json.Marshal(d)
				fmt.Fprintf(env.Stdout, "%s\n", b)
				return nil
			}
			switch d.State {
			case string(notify.Sent):
				fmt.Fprintf(env.Stdout, "test message delivered to %s (%s)\n", d.Channel, d.Key)
				return nil
			case string(notify.Pending):
				return fmt.Errorf("test message %d still pending after %s: is quench serve running?", d.ID, *wait)
			}
			return fmt.Errorf("test message to %s is %s after %d attempt(s): %s", d.Channel, d.State, d.Attempts, d.LastError)
		case "remove":
			if len(pos) != 1 {
				return usageErr("channel remove ID")
			}
			if err := c.do(ctx, "DELETE", "/api/v1/channels/"+url.PathEscape(pos[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "channel %s removed; its unsent messages are dropped\n", pos[0])
			return nil
		}
		return usageErr("unknown channel command %q", args[0])
	}
}

// deliveryCmd shows the outbox and retries failed messages.
func deliveryCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	state := fs.String("state", "", "pending, failing, sent, failed, dead or suppressed (comma-separated)")
	incidentN := fs.Int64("incident", 0, "only messages about this incident")
	channel := fs.Int64("channel", 0, "only messages to this channel ID")
	limit := fs.Int("limit", 50, "how many")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		switch args[0] {
		case "list":
			q := url.Values{"limit": {strconv.Itoa(*limit)}}
			if *state != "" {
				q.Set("state", *state)
			}
			if *incidentN > 0 {
				q.Set("incident", strconv.FormatInt(*incidentN, 10))
			}
			if *channel > 0 {
				q.Set("channel", strconv.FormatInt(*channel, 10))
			}
			var page struct {
				Deliveries []api.DeliveryJSON `json:"deliveries"`
			}
			if err := c.do(ctx, "GET", "/api/v1/deliveries?"+q.Encode(), nil, out.raw(&page)); err != nil {
				return err
			}
			return out.done(func() {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tTRIES\tTO\tEVENT\tINCIDENT\tAGE\tNOTE")
				for _, d := range page.Deliveries {
					inc := ""
					if d.Incident != 0 {
						inc = "#" + strconv.FormatInt(d.Incident, 10)
					}
					note := d.LastError
					if d.State == string(notify.Failing) && d.NextAttemptAt != nil {
						note = "next try in " + strings.TrimPrefix(since(time.Now().Add(-time.Until(*d.NextAttemptAt))), "-") + ": " + note
					}
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.State, d.Attempts, d.Channel, d.Event, inc, since(d.CreatedAt), note)
				}
				tw.Flush()
			})
		case "retry":
			if len(pos) == 0 {
				return usageErr("delivery retry ID [ID…]")
			}
			for _, s := range pos {
				var d api.DeliveryJSON
				if err := c.do(ctx, "POST", "/api/v1/deliveries/"+url.PathEscape(s)+"/retry", nil, &d); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "message %d to %s queued again\n", d.ID, d.Channel)
			}
			return nil
		}
		return usageErr("unknown delivery command %q", args[0])
	}
}

// meCmd shows or changes one's own profile: the e-mail address messages
// about one's own work go to, and whether they go at all.
func meCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	email := fs.String("email", "", "your e-mail address")
	name := fs.String("name", "", "your display name")
	notifyEmail := fs.String("notify-email", "", "true or false: e-mail when you own a phase or get a checklist item")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		body := map[string]any{}
		fs.Visit(func(f *pflag.Flag) {
			switch f.Name {
			case "email":
				body["email"] = *email
			case "name":
				body["display_name"] = *name
			}
		})
		if *notifyEmail != "" {
			on, err := strconv.ParseBool(*notifyEmail)
			if err != nil {
				return usageErr("--notify-email takes true or false")
			}
			body["notify_email"] = on
		}
		var me struct {
			User        *api.UserJSON `json:"user"`
			Role        string        `json:"role"`
			NotifyEmail *bool         `json:"notify_email"`
		}
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		method, body2 := "GET", any(nil)
		if len(body) > 0 {
			method, body2 = "PATCH", body
		}
		if err := c.do(ctx, method, "/api/v1/me", body2, out.raw(&me)); err != nil {
			return err
		}
		return out.done(func() {
			if me.User == nil {
				fmt.Fprintln(env.Stdout, "not signed in (anonymous viewer)")
				return
			}
			fmt.Fprintf(env.Stdout, "%s (%s), e-mail %q", me.User.Username, me.Role, me.User.Email)
			if me.NotifyEmail != nil {
				fmt.Fprintf(env.Stdout, ", e-mail about your own work: %v", *me.NotifyEmail)
			}
			fmt.Fprintln(env.Stdout)
		})
	}
}
