package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

func incidentCmd(fs *pflag.FlagSet) runner {
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
		text: fs.String("text", "", "text"), done: fs.Int("done", 0, "tick the incident's Nth checklist item"), undo: fs.Int("undo", 0, "untick the incident's Nth checklist item"),
		publish: fs.Int64("publish", 0, "make update ID public"), withdraw: fs.Int64("withdraw", 0, "make update ID internal again"),
		url: fs.String("url", "", "url"), kind: fs.String("kind", "", "link kind"),
		into:     fs.String("into", "", "the incident a duplicate is merged into"),
		state:    fs.String("state", "", "live, ended, merged or cancelled"),
		template: fs.String("template", "", "checklist template: a name, or none (default: every template that matches)"),
	}
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args[1:]
		c := newClient(cfg)
		out := &printer{w: env.Stdout, json: *asJSON}
		// assign and upload take a second argument: the user, the file.
		want := 1
		if args[0] == "assign" || args[0] == "upload" {
			want = 2
		}
		number := func() (int64, error) {
			if len(pos) != want {
				if want == 2 {
					return 0, usageErr("usage: quench incident %s N %s", args[0], map[string]string{"assign": "USER [--phase P]", "upload": "FILE [--public]"}[args[0]])
				}
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
		case "assign":
			return assign(ctx, c, out, base, n, *f.phase, pos[1])
		case "upload":
			return upload(ctx, c, out, base, n, pos[1], *f.public)
		case "update":
			if *f.publish != 0 || *f.withdraw != 0 {
				if *f.publish != 0 && *f.withdraw != 0 || *f.body != "" {
					return usageErr("incident update N takes one of --body, --publish ID, --withdraw ID")
				}
				id, vis := *f.publish, "public"
				if id == 0 {
					id, vis = *f.withdraw, "internal"
				}
				var u api.UpdateJSON
				if err := c.do(ctx, "PATCH", fmt.Sprintf("%s/updates/%d", base, id), map[string]any{"visibility": vis}, out.raw(&u)); err != nil {
					return err
				}
				return out.done(func() { fmt.Fprintf(env.Stdout, "update %d on #%d is now %s\n", u.ID, n, u.Visibility) })
			}
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
			if *f.done != 0 || *f.undo != 0 {
				if *f.done != 0 && *f.undo != 0 {
					return usageErr("incident check N takes --done or --undo, not both")
				}
				position, tick := *f.done, true
				if position == 0 {
					position, tick = *f.undo, false
				}
				id, err := checklistID(ctx, c, base, n, position)
				if err != nil {
					return err
				}
				if err := c.do(ctx, "PATCH", fmt.Sprintf("%s/checklist/%d", base, id), map[string]any{"done": tick}, out.raw(&it)); err != nil {
					return err
				}
				return out.done(func() { fmt.Fprintf(env.Stdout, "%s %d (%s): %s\n", checkbox(it.Done), position, it.Phase, it.Text) })
			}
			if err := c.do(ctx, "POST", base+"/checklist", map[string]any{"text": *f.text, "phase": *f.phase, "owner": *f.owner}, out.raw(&it)); err != nil {
				return err
			}
			if out.json {
				return out.done(nil)
			}
			position, err := checklistPosition(ctx, c, base, it.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "added %s %d (%s): %s\n", checkbox(it.Done), position, it.Phase, it.Text)
			return nil
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
}

type incidentFlags struct {
	phase, service, owner, q, severity, title, summary, source, note, to, improvement, reason, body, text, url, kind *string
	into, state, template                                                                                            *string
	limit                                                                                                            *int
	confidential, override, public                                                                                   *bool
	done, undo                                                                                                       *int
	publish, withdraw                                                                                                *int64
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
	var updates struct {
		Updates []api.UpdateJSON `json:"updates"`
	}
	var links struct {
		Links []api.LinkJSON `json:"links"`
	}
	var files struct {
		Attachments []api.AttachmentJSON `json:"attachments"`
	}
	var alerts struct {
		Alerts   []api.AlertJSON `json:"alerts"`
		Attached int64           `json:"attached"`
		Firing   int64           `json:"firing"`
	}
	if err := c.do(ctx, "GET", base, nil, &inc); err != nil {
		return err
	}
	items, err := checklist(ctx, c, base)
	if err != nil {
		return err
	}
	for _, get := range []struct {
		path string
		into any
	}{{"/updates", &updates}, {"/links", &links}, {"/attachments", &files}} {
		if err := c.do(ctx, "GET", base+get.path, nil, get.into); err != nil {
			return err
		}
	}
	// Alerts are the team's: a viewer's request is refused, and the
	// incident is shown without them.
	var ae *apiError
	if err := c.do(ctx, "GET", base+"/alerts", nil, &alerts); err != nil && !(errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized)) {
		return err
	}
	w := out.w
	fmt.Fprintf(w, "#%d %s\n", inc.Number, inc.Title)
	// A merged or cancelled incident keeps the phase it ended in, but is
	// in none any more: it shows its end, as incident list does.
	state := string(inc.Phase)
	if inc.EndState != nil {
		state = string(*inc.EndState)
		if inc.MergedInto != 0 {
			state += fmt.Sprintf(" into #%d", inc.MergedInto)
		}
		state += fmt.Sprintf(" (was %s)", inc.Phase)
	}
	fmt.Fprintf(w, "%s · %s · detected by %s · %s\n", state, inc.Severity, inc.DetectionSource, inc.Visibility)
	if inc.EndState != nil && inc.EndReason != "" {
		fmt.Fprintf(w, "reason: %s\n", inc.EndReason)
	}
	if inc.OnStatusPage {
		fmt.Fprintln(w, publishedLine(inc))
	}
	if len(inc.Services) > 0 {
		fmt.Fprintf(w, "services: %s\n", strings.Join(inc.Services, ", "))
	}
	if len(inc.Labels) > 0 {
		labels := make([]string, 0, len(inc.Labels))
		for k, v := range inc.Labels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		fmt.Fprintf(w, "labels: %s\n", strings.Join(labels, ", "))
	}
	fmt.Fprintln(w)
	for _, ph := range incident.Phases {
		at, reached := inc.PhaseEnteredAt[string(ph)]
		mark := "  "
		if ph == inc.Phase && inc.EndState == nil {
			mark = "▶ "
		}
		line := fmt.Sprintf("%s%-10s", mark, ph)
		if reached {
			line += " " + at.Local().Format("2006-01-02 15:04")
		} else if ph != incident.Closed {
			line += " " + strings.Repeat(" ", len("2006-01-02 15:04"))
		}
		if ph != incident.Closed {
			owner := inc.Owners[string(ph)]
			if owner == "" {
				owner = "(none)"
			}
			line += "  owner " + owner
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if note := inc.PhaseNotes[string(ph)]; note != "" {
			fmt.Fprintf(w, "      %s: %s\n", ph.NoteName(), note)
		}
	}
	if inc.DetectionImprovement != "" {
		fmt.Fprintf(w, "\ndetection improvement: %s\n", inc.DetectionImprovement)
	}
	if inc.Summary != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(inc.Summary, "\n"))
	}
	if len(items) > 0 {
		fmt.Fprintln(w, "\nchecklist (quench incident check N --done POSITION):")
		for i, it := range items {
			owner := ""
			if it.Owner != "" {
				owner = " — " + it.Owner
			}
			fmt.Fprintf(w, "  %s %d (%s) %s%s\n", checkbox(it.Done), i+1, it.Phase, it.Text, owner)
		}
	}
	if len(links.Links) > 0 {
		fmt.Fprintln(w, "\nlinks:")
		for _, l := range links.Links {
			fmt.Fprintf(w, "  %s %s %s\n", l.Kind, l.URL, l.Title)
		}
	}
	if len(files.Attachments) > 0 {
		fmt.Fprintln(w, "\nfiles:")
		for _, f := range files.Attachments {
			fmt.Fprintf(w, "  %s (%s, %d bytes, %s) %s\n", f.Filename, f.ContentType, f.Size, f.Visibility, f.URL)
		}
	}
	if alerts.Attached > 0 {
		fmt.Fprintf(w, "\nalerts: %d attached, %d firing\n", alerts.Attached, alerts.Firing)
		for i, a := range alerts.Alerts {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more (quench alert list --json)\n", len(alerts.Alerts)-i)
				break
			}
			fmt.Fprintf(w, "  %-8s %s  %s\n", a.Status, a.Title, a.LastSeen.Local().Format("2006-01-02 15:04"))
		}
	}
	if len(updates.Updates) > 0 {
		fmt.Fprintln(w, "\nupdates (quench incident update N --publish|--withdraw ID):")
		for _, u := range updates.Updates {
			fmt.Fprintf(w, "  [%d] %s %s, %s:\n", u.ID, u.CreatedAt.Local().Format("2006-01-02 15:04"), u.Author, u.Visibility)
			for _, line := range strings.Split(strings.TrimRight(u.Body, "\n"), "\n") {
				fmt.Fprintf(w, "      %s\n", line)
			}
		}
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

// checklist lists an incident's items in their order: the positions the
// CLI shows and takes (`check 4 --done 1` is #4's first item).
func checklist(ctx context.Context, c *client, base string) ([]api.ChecklistItemJSON, error) {
	var items struct {
		Checklist []api.ChecklistItemJSON `json:"checklist"`
	}
	err := c.do(ctx, "GET", base+"/checklist", nil, &items)
	return items.Checklist, err
}

// checklistID is the id of the incident's item at position (from 1).
func checklistID(ctx context.Context, c *client, base string, n int64, position int) (int64, error) {
	if position < 1 {
		return 0, usageErr("--done and --undo take an item's position on the incident: 1 is its first item")
	}
	items, err := checklist(ctx, c, base)
	if err != nil {
		return 0, err
	}
	if position > len(items) {
		return 0, fmt.Errorf("incident #%d has %d checklist item(s), no item %d (quench incident show %d lists them)", n, len(items), position, n)
	}
	return items[position-1].ID, nil
}

func checklistPosition(ctx context.Context, c *client, base string, id int64) (int, error) {
	items, err := checklist(ctx, c, base)
	if err != nil {
		return 0, err
	}
	for i, it := range items {
		if it.ID == id {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("checklist item %d is gone", id)
}

// assign makes user the owner of phase (default: the current one); "-"
// leaves the phase without an owner.
func assign(ctx context.Context, c *client, out *printer, base string, n int64, phase, user string) error {
	if phase == "" {
		var inc service.IncidentJSON
		if err := c.do(ctx, "GET", base, nil, &inc); err != nil {
			return err
		}
		if inc.Phase == incident.Closed {
			return fmt.Errorf("incident #%d is closed: name the phase with --phase", n)
		}
		phase = string(inc.Phase)
	}
	if user == "-" {
		user = ""
	}
	if err := c.do(ctx, "PATCH", base, map[string]any{"owners": map[string]string{phase: user}}, out.target()); err != nil {
		return err
	}
	return out.done(func() {
		if o := out.inc.Owners[phase]; o != "" {
			fmt.Fprintf(out.w, "%s owns the %s phase of #%d\n", o, phase, n)
		} else {
			fmt.Fprintf(out.w, "nobody owns the %s phase of #%d\n", phase, n)
		}
	})
}

// upload attaches a file (internal unless public).
func upload(ctx context.Context, c *client, out *printer, base string, n int64, path string, public bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	vis := "internal"
	if public {
		vis = "public"
	}
	if err := mw.WriteField("visibility", vis); err != nil {
		return err
	}
	part, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, io.LimitReader(f, service.MaxAttachmentBytes+1)); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	var a api.AttachmentJSON
	if err := c.send(ctx, "POST", base+"/attachments", mw.FormDataContentType(), &body, out.raw(&a)); err != nil {
		return err
	}
	return out.done(func() {
		fmt.Fprintf(out.w, "attached %s (%s, %d bytes) to #%d as %s\n%s\n", a.Filename, a.Visibility, a.Size, n, a.ContentType, a.URL)
	})
}
