package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

func incidentCmd(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) == 0 {
		return usageErr("incident list|show|open|advance|reopen|merge|cancel|update|check|link|timeline|publish|unpublish")
	}
	fs := flag.NewFlagSet("incident", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the server's JSON")
	f := incidentFlags{
		phase: fs.String("phase", "", "phase filter, or the checklist item's phase"), service: fs.String("service", "", "service (comma-separated when opening)"),
		owner: fs.String("owner", "", "owner"), q: fs.String("q", "", "search text"), severity: fs.String("severity", "", "critical, major or minor"),
		limit: fs.Int("limit", 50, "how many"), title: fs.String("title", "", "title"), summary: fs.String("summary", "", "summary"),
		source:       fs.String("source", "", "detection source: alert, exception, customer, team, other"),
		confidential: fs.Bool("confidential", false, "hide the incident from viewers"), note: fs.String("note", "", "note"),
		to:          fs.String("to", "", "target phase (default: the next one)"),
		override:    fs.Bool("override", false, "leave the phase despite open checklist items"),
		improvement: fs.String("detection-improvement", "", "detection-improvement"), reason: fs.String("reason", "", "reason"),
		body: fs.String("body", "", "Markdown text; - reads stdin"), public: fs.Bool("public", false, "publish the update to viewers"),
		text: fs.String("text", "", "text"), done: fs.Int64("done", 0, "tick item ID"), undo: fs.Int64("undo", 0, "untick item ID"),
		url: fs.String("url", "", "url"), kind: fs.String("kind", "", "link kind"),
		into:     fs.String("into", "", "the incident a duplicate is merged into"),
		state:    fs.String("state", "", "live, ended, merged or cancelled"),
		template: fs.String("template", "", "checklist template: a name, or none (default: every template that matches)"),
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	c := newClient(cfg)
	out := &printer{w: env.Stdout, json: *asJSON}
	number := func() (int64, error) {
		if len(pos) != 1 {
			return 0, usageErr("incident %s takes one incident number", args[0])
		}
		n, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
		if err != nil || n <= 0 {
			return 0, usageErr("%q is not an incident number", pos[0])
		}
		return n, nil
	}
	if args[0] == "list" {
		return listIncidents(ctx, c, out, f)
	}
	if args[0] == "open" {
		return openIncident(ctx, c, out, f)
	}
	n, err := number()
	if err != nil {
		return err
	}
	base := fmt.Sprintf("/api/v1/incidents/%d", n)
	switch args[0] {
	case "show":
		return showIncident(ctx, c, out, base)
	case "advance":
		to := *f.to
		if to == "" {
			var inc service.IncidentJSON
			if err := c.do(ctx, "GET", base, nil, &inc); err != nil {
				return err
			}
			next, ok := inc.Phase.Next()
			if !ok {
				return fmt.Errorf("incident #%d is closed; use quench incident reopen", n)
			}
			to = string(next)
		}
		return out.incident(c.do(ctx, "POST", base+"/transitions", map[string]any{
			"to": to, "note": *f.note, "override": *f.override, "detection_improvement": *f.improvement}, out.target()))
	case "reopen":
		return out.incident(c.do(ctx, "POST", base+"/transitions", map[string]any{"to": "active", "reason": *f.reason}, out.target()))
	case "merge":
		into, err := strconv.ParseInt(strings.TrimPrefix(*f.into, "#"), 10, 64)
		if err != nil || into <= 0 {
			return usageErr("incident merge N --into M --reason TEXT: --into is the number of the incident N duplicates")
		}
		var res struct {
			Incident service.IncidentJSON `json:"incident"`
			Moved    map[string]int64     `json:"moved"`
		}
		if err := c.do(ctx, "POST", base+"/merge", map[string]any{"into": into, "reason": *f.reason}, out.raw(&res)); err != nil {
			return err
		}
		return out.done(func() {
			m := res.Moved
			fmt.Fprintf(out.w, "#%d merged into #%d: moved %d alert(s), %d link(s), %d checklist item(s), %d attachment(s)\n",
				n, into, m["alerts"], m["links"], m["checklist_items"], m["attachments"])
		})
	case "cancel":
		return out.incident(c.do(ctx, "POST", base+"/cancel", map[string]any{"reason": *f.reason}, out.target()))
	case "update":
		body := *f.body
		if body == "-" {
			b, err := io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
			if err != nil {
				return err
			}
			body = string(b)
		}
		vis := "internal"
		if *f.public {
			vis = "public"
		}
		var u api.UpdateJSON
		if err := c.do(ctx, "POST", base+"/updates", map[string]any{"body": body, "visibility": vis}, out.raw(&u)); err != nil {
			return err
		}
		return out.done(func() { fmt.Fprintf(env.Stdout, "posted %s update %d on #%d\n", u.Visibility, u.ID, n) })
	case "check":
		var it api.ChecklistItemJSON
		var err error
		switch {
		case *f.done != 0:
			err = c.do(ctx, "PATCH", fmt.Sprintf("%s/checklist/%d", base, *f.done), map[string]any{"done": true}, out.raw(&it))
		case *f.undo != 0:
			err = c.do(ctx, "PATCH", fmt.Sprintf("%s/checklist/%d", base, *f.undo), map[string]any{"done": false}, out.raw(&it))
		default:
			err = c.do(ctx, "POST", base+"/checklist", map[string]any{"text": *f.text, "phase": *f.phase, "owner": *f.owner}, out.raw(&it))
		}
		if err != nil {
			return err
		}
		return out.done(func() { fmt.Fprintf(env.Stdout, "%s item %d (%s): %s\n", checkbox(it.Done), it.ID, it.Phase, it.Text) })
	case "link":
		var l api.LinkJSON
		if err := c.do(ctx, "POST", base+"/links", map[string]any{"url": *f.url, "kind": *f.kind, "title": *f.title}, out.raw(&l)); err != nil {
			return err
		}
		return out.done(func() { fmt.Fprintf(env.Stdout, "linked %s %s to #%d\n", l.Kind, l.URL, n) })
	case "publish", "unpublish":
		return publish(ctx, c, out, base, args[0] == "publish", f.title)
	case "timeline":
		var tl struct {
			Events []api.EventJSON `json:"events"`
		}
		if err := c.do(ctx, "GET", base+"/timeline", nil, out.raw(&tl)); err != nil {
			return err
		}
		return out.done(func() {
			for _, e := range tl.Events {
				fmt.Fprintf(env.Stdout, "%s  %-10s %s\n", e.At.Local().Format("2006-01-02 15:04"), e.Actor, describe(e))
			}
		})
	}
	return usageErr("unknown incident command %q", args[0])
}

type incidentFlags struct {
	phase, service, owner, q, severity, title, summary, source, note, to, improvement, reason, body, text, url, kind *string
	into, state, template                                                                                            *string
	limit                                                                                                            *int
	confidential, override, public                                                                                   *bool
	done, undo                                                                                                       *int64
}

// printer prints either the server's JSON (--json) or a readable form.
type printer struct {
	w    io.Writer
	json bool
	buf  json.RawMessage
	inc  service.IncidentJSON
}

// raw returns where c.do should decode: the raw JSON for --json, else v.
func (p *printer) raw(v any) any {
	if p.json {
		return &p.buf
	}
	return v
}

func (p *printer) target() any { return p.raw(&p.inc) }

// done prints the JSON, or runs human for the readable form.
func (p *printer) done(human func()) error {
	if p.json {
		p.w.Write(p.buf)
		return nil
	}
	human()
	return nil
}

func (p *printer) incident(err error) error {
	if err != nil {
		return err
	}
	return p.done(func() {
		if p.inc.EndState != nil {
			fmt.Fprintf(p.w, "#%d is %s (was %s): %s\n", p.inc.Number, *p.inc.EndState, p.inc.Phase, p.inc.Title)
			return
		}
		fmt.Fprintf(p.w, "#%d is %s: %s\n", p.inc.Number, p.inc.Phase, p.inc.Title)
	})
}

func listIncidents(ctx context.Context, c *client, out *printer, f incidentFlags) error {
	q := url.Values{}
	for k, v := range map[string]string{"phase": *f.phase, "service": *f.service, "owner": *f.owner, "q": *f.q, "severity": *f.severity, "state": *f.state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(*f.limit))
	var page struct {
		Incidents []service.IncidentJSON `json:"incidents"`
		Total     int                    `json:"total"`
	}
	if err := c.do(ctx, "GET", "/api/v1/incidents?"+q.Encode(), nil, out.raw(&page)); err != nil {
		return err
	}
	return out.done(func() {
		tw := tabwriter.NewWriter(out.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tPHASE\tSEVERITY\tOWNER\tIN PHASE\tTITLE")
		for _, i := range page.Incidents {
			owner := i.Owners[string(i.Phase)]
			if owner == "" && i.Phase != incident.Closed {
				owner = "(none)"
			}
			phase, in := string(i.Phase), since(i.PhaseEnteredAt[string(i.Phase)])
			if i.EndState != nil {
				phase, owner, in = string(*i.EndState), "", since(*i.EndedAt)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i.Number, phase, i.Severity, owner, in, i.Title)
		}
		tw.Flush()
		if page.Total > len(page.Incidents) {
			fmt.Fprintf(out.w, "(%d of %d shown)\n", len(page.Incidents), page.Total)
		}
	})
}

func openIncident(ctx context.Context, c *client, out *printer, f incidentFlags) error {
	body := map[string]any{"title": *f.title, "summary": *f.summary}
	if *f.severity != "" {
		body["severity"] = *f.severity
	}
	if *f.source != "" {
		body["detection_source"] = *f.source
	}
	if *f.service != "" {
		body["services"] = strings.Split(*f.service, ",")
	}
	if *f.confidential {
		body["visibility"] = "confidential"
	}
	if *f.owner != "" {
		body["owners"] = map[string]string{"active": *f.owner}
	}
	if *f.template != "" {
		body["checklist_template"] = *f.template
	}
	if err := c.do(ctx, "POST", "/api/v1/incidents", body, out.target()); err != nil {
		return err
	}
	return out.done(func() { fmt.Fprintf(out.w, "opened #%d: %s\n%s\n", out.inc.Number, out.inc.Title, out.inc.URL) })
}

func showIncident(ctx context.Context, c *client, out *printer, base string) error {
	if out.json {
		if err := c.do(ctx, "GET", base, nil, &out.buf); err != nil {
			return err
		}
		return out.done(nil)
	}
	var inc service.IncidentJSON
	var items struct {
		Checklist []api.ChecklistItemJSON `json:"checklist"`
	}
	var links struct {
		Links []api.LinkJSON `json:"links"`
	}
	if err := c.do(ctx, "GET", base, nil, &inc); err != nil {
		return err
	}
	if err := c.do(ctx, "GET", base+"/checklist", nil, &items); err != nil {
		return err
	}
	if err := c.do(ctx, "GET", base+"/links", nil, &links); err != nil {
		return err
	}
	w := out.w
	fmt.Fprintf(w, "#%d %s\n", inc.Number, inc.Title)
	fmt.Fprintf(w, "%s · %s · detected by %s · %s\n", inc.Phase, inc.Severity, inc.DetectionSource, inc.Visibility)
	if inc.EndState != nil {
		what := string(*inc.EndState)
		if inc.MergedInto != 0 {
			what += fmt.Sprintf(" into #%d", inc.MergedInto)
		}
		fmt.Fprintf(w, "%s: %s\n", what, inc.EndReason)
	}
	if inc.OnStatusPage {
		fmt.Fprintln(w, publishedLine(inc))
	}
	if len(inc.Services) > 0 {
		fmt.Fprintf(w, "services: %s\n", strings.Join(inc.Services, ", "))
	}
	fmt.Fprintln(w)
	for _, ph := range incident.Phases {
		at, reached := inc.PhaseEnteredAt[string(ph)]
		mark := "  "
		if ph == inc.Phase {
			mark = "▶ "
		}
		line := fmt.Sprintf("%s%-10s", mark, ph)
		if reached {
			line += " " + at.Local().Format("2006-01-02 15:04")
		}
		if o := inc.Owners[string(ph)]; o != "" {
			line += "  owner " + o
		}
		fmt.Fprintln(w, line)
		if note := inc.PhaseNotes[string(ph)]; note != "" {
			fmt.Fprintf(w, "      %s: %s\n", ph.NoteName(), note)
		}
	}
	if inc.DetectionImprovement != "" {
		fmt.Fprintf(w, "\ndetection improvement: %s\n", inc.DetectionImprovement)
	}
	if len(items.Checklist) > 0 {
		fmt.Fprintln(w, "\nchecklist:")
		for _, it := range items.Checklist {
			fmt.Fprintf(w, "  %s %d (%s) %s\n", checkbox(it.Done), it.ID, it.Phase, it.Text)
		}
	}
	if len(links.Links) > 0 {
		fmt.Fprintln(w, "\nlinks:")
		for _, l := range links.Links {
			fmt.Fprintf(w, "  %s %s %s\n", l.Kind, l.URL, l.Title)
		}
	}
	if inc.Summary != "" {
		fmt.Fprintf(w, "\n%s\n", inc.Summary)
	}
	fmt.Fprintf(w, "\n%s\n", inc.URL)
	return nil
}

func checkbox(done bool) string {
	if done {
		return "[x]"
	}
	return "[ ]"
}

// since is a compact age: 45s, 12m, 3h, 4d.
func since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// describe is a one-line summary of a timeline event.
func describe(e api.EventJSON) string {
	ev := incident.Event{Kind: incident.EventKind(e.Kind), Data: e.Data}
	body := ""
	if e.Update != nil {
		body = e.Update.Body
	}
	return ev.Sentence(body)
}
