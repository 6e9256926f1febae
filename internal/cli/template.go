package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/incident"
)

// itemList collects --item flags, each "PHASE: text" or just "text"
// (active).
type itemList []incident.TemplateItem

func (l *itemList) String() string {
	if len(*l) == 0 {
		return "" // no default to show in --help
	}
	return fmt.Sprint(*l)
}
func (l *itemList) Type() string { return "item" }
func (l *itemList) Set(v string) error {
	*l = append(*l, parseTemplateItem(v))
	return nil
}

// parseTemplateItem reads "resolved: add to incident log"; a prefix that
// is not a phase stays part of the text ("fix: the config").
func parseTemplateItem(v string) incident.TemplateItem {
	if ph, text, ok := strings.Cut(v, ":"); ok {
		if p := incident.Phase(strings.TrimSpace(ph)); slices.Contains(incident.OwnedPhases, p) {
			return incident.TemplateItem{Phase: p, Text: strings.TrimSpace(text)}
		}
	}
	return incident.TemplateItem{Phase: incident.Active, Text: strings.TrimSpace(v)}
}

// templateCmd manages checklist templates through the API: anyone on the
// team lists them, an admin token adds and removes them.
func templateCmd(fs *pflag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the server's JSON")
	severity := fs.String("severity", "", "only incidents of this severity (default: any)")
	svc := fs.String("service", "", "only incidents touching this service (default: any)")
	name := fs.String("name", "", "edit: the new name")
	var items itemList
	fs.Var(&items, "item", "an item, 'PHASE: text' (active, mitigated or resolved; resolved items gate the close); repeat")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		switch args[0] {
		case "add":
			if len(pos) != 1 || len(items) == 0 {
				return usageErr("template add NAME --item 'resolved: add to incident log' [--item …] [--severity S] [--service S]")
			}
			var t api.TemplateJSON
			body := map[string]any{"name": pos[0], "severity": *severity, "service": *svc, "items": items}
			if err := c.do(ctx, "POST", "/api/v1/checklist-templates", body, out.raw(&t)); err != nil {
				return err
			}
			return out.done(func() {
				fmt.Fprintf(env.Stdout, "template %d %q added: %d items for new incidents of %s\n", t.ID, t.Name, len(t.Items), appliesTo(t))
			})
		case "edit":
			const usage = "template edit ID [--name NAME] [--item 'PHASE: text' …] [--severity S] [--service S]"
			if len(pos) != 1 {
				return usageErr(usage)
			}
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErr("%q is not a template ID; %s", pos[0], usage)
			}
			// Only what is given changes; --item replaces all the items,
			// --severity '' and --service '' make the template apply to any.
			body := map[string]any{}
			if fs.Changed("name") {
				body["name"] = *name
			}
			if fs.Changed("severity") {
				body["severity"] = *severity
			}
			if fs.Changed("service") {
				body["service"] = *svc
			}
			if len(items) > 0 {
				body["items"] = items
			}
			if len(body) == 0 {
				return usageErr("template edit ID: give --name, --item, --severity or --service")
			}
			var t api.TemplateJSON
			if err := c.do(ctx, "PATCH", fmt.Sprintf("/api/v1/checklist-templates/%d", id), body, out.raw(&t)); err != nil {
				return err
			}
			return out.done(func() {
				fmt.Fprintf(env.Stdout, "template %d %q saved: %d items for new incidents of %s\n", t.ID, t.Name, len(t.Items), appliesTo(t))
			})
		case "list":
			if len(pos) > 0 {
				return usageErr("template list")
			}
			var page struct {
				Templates []api.TemplateJSON `json:"templates"`
			}
			if err := c.do(ctx, "GET", "/api/v1/checklist-templates", nil, out.raw(&page)); err != nil {
				return err
			}
			return out.done(func() {
				tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tAPPLIES TO\tITEMS")
				for _, t := range page.Templates {
					texts := make([]string, len(t.Items))
					for i, it := range t.Items {
						texts[i] = string(it.Phase) + ": " + it.Text
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.Name, appliesTo(t), strings.Join(texts, "; "))
				}
				tw.Flush()
			})
		case "remove":
			return removeByID(ctx, c, env, pos, "template", "/api/v1/checklist-templates/", "incidents keep the items it added")
		}
		return usageErr("template add|edit|list|remove")
	}
}

func appliesTo(t api.TemplateJSON) string {
	sev, svc := "any severity", "any service"
	if t.Severity != "" {
		sev = string(t.Severity)
	}
	if t.Service != "" {
		svc = "service " + t.Service
	}
	return sev + ", " + svc
}
