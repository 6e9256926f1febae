package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// The status page from the command line, through the API: components and
// planned maintenance (an admin token), publishing incidents (a write
// token).

// componentCmd manages the status page's components.
func componentCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	name := fs.String("name", "", "what customers call it, e.g. Checkout")
	desc := fs.String("description", "", "a line about it")
	group := fs.String("group", "", "a heading it is shown under")
	position := fs.Int("position", 0, "page order, smaller first")
	var services list
	fs.Var(&services, "services", "the services it stands for (repeat or comma-separate)")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		switch args[0] {
		case "add":
			if *name == "" || len(services) == 0 || len(pos) > 0 {
				return usageErr("component add --name NAME --services S,… [--description TEXT] [--group G] [--position N]")
			}
			var comp api.ComponentJSON
			body := map[string]any{"name": *name, "services": services, "description": *desc, "group": *group, "position": *position}
			if err := c.do(ctx, "POST", "/api/v1/components", body, out.raw(&comp)); err != nil {
				return err
			}
			return out.done(func() {
				fmt.Fprintf(env.Stdout, "component %d %q added (services %s)\n", comp.ID, comp.Name, strings.Join(comp.Services, ", "))
			})
		case "list":
			return table(ctx, c, out, "/api/v1/components", "components", "ID\tPOSITION\tNAME\tGROUP\tSERVICES", func(comp api.ComponentJSON) string {
				return fmt.Sprintf("%d\t%d\t%s\t%s\t%s", comp.ID, comp.Position, comp.Name, comp.Group, strings.Join(comp.Services, ","))
			})
		case "remove":
			return removeByID(ctx, c, env, pos, "component", "/api/v1/components/", "")
		}
		return usageErr("unknown component command %q", args[0])
	}
}

// table gets the list under key at path and prints it: the JSON with
// --json, else a table of header and a row per item.
func table[T any](ctx context.Context, c *client, out *printer, path, key, header string, row func(T) string) error {
	var page map[string][]T
	if err := c.do(ctx, "GET", path, nil, out.raw(&page)); err != nil {
		return err
	}
	return out.done(func() {
		tw := tabwriter.NewWriter(out.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, item := range page[key] {
			fmt.Fprintln(tw, row(item))
		}
		tw.Flush()
	})
}

// removeByID deletes the one thing of kind whose id pos names; after says
// what follows from it ("" for nothing).
func removeByID(ctx context.Context, c *client, env Env, pos []string, kind, prefix, after string) error {
	if len(pos) != 1 {
		return usageErr("%s remove ID", kind)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return usageErr("%q is not a %s id", pos[0], kind)
	}
	if err := c.do(ctx, "DELETE", prefix+strconv.FormatInt(id, 10), nil, nil); err != nil {
		return err
	}
	if after != "" {
		after = "; " + after
	}
	fmt.Fprintf(env.Stdout, "%s %d removed%s\n", kind, id, after)
	return nil
}

// maintenanceCmd announces and withdraws planned maintenance.
func maintenanceCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	title := fs.String("title", "", "what customers read")
	body := fs.String("body", "", "more, in Markdown")
	start := fs.String("start", "", "when it starts, RFC 3339 (2026-12-01T22:00:00Z)")
	end := fs.String("end", "", "when it ends, RFC 3339")
	var comps list
	fs.Var(&comps, "component", "component ids it touches (default: all)")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		switch args[0] {
		case "add":
			from, err1 := time.Parse(time.RFC3339, *start)
			to, err2 := time.Parse(time.RFC3339, *end)
			if *title == "" || err1 != nil || err2 != nil || len(pos) > 0 {
				return usageErr("maintenance add --title T --start 2026-12-01T22:00:00Z --end 2026-12-01T23:00:00Z [--component ID,…] [--body TEXT]")
			}
			ids := []int64{}
			for _, v := range comps {
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return usageErr("%q is not a component id", v)
				}
				ids = append(ids, id)
			}
			var m api.MaintenanceJSON
			req := map[string]any{"title": *title, "body": *body, "starts_at": from, "ends_at": to, "components": ids}
			if err := c.do(ctx, "POST", "/api/v1/maintenance", req, out.raw(&m)); err != nil {
				return err
			}
			return out.done(func() { fmt.Fprintf(env.Stdout, "maintenance %d %q announced\n", m.ID, m.Title) })
		case "list":
			return table(ctx, c, out, "/api/v1/maintenance", "maintenance", "ID\tFROM\tTO\tTITLE", func(m api.MaintenanceJSON) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s", m.ID, m.StartsAt.Format(time.RFC3339), m.EndsAt.Format(time.RFC3339), m.Title)
			})
		case "remove":
			return removeByID(ctx, c, env, pos, "maintenance", "/api/v1/maintenance/", "")
		}
		return usageErr("unknown maintenance command %q", args[0])
	}
}

// publish puts incident n on the status page (with a customer-facing
// title, when given) or takes it off.
func publish(ctx context.Context, c *client, out *printer, base string, on bool, title *string) error {
	body := map[string]any{"on_status_page": on}
	if on && *title != "" {
		body["status_title"] = *title
	}
	if err := c.do(ctx, "PATCH", base, body, out.target()); err != nil {
		return err
	}
	return out.done(func() { fmt.Fprintln(out.w, publishedLine(out.inc)) })
}

func publishedLine(inc service.IncidentJSON) string {
	if !inc.OnStatusPage {
		return fmt.Sprintf("#%d is not on the status page", inc.Number)
	}
	title := inc.StatusTitle
	if title == "" {
		title = inc.Title
	}
	return fmt.Sprintf("#%d is on the status page as %q", inc.Number, title)
}
