package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/status"
)

// The status page for customers: /status (HTML), /status.json and
// /status.atom, the same content in three forms. It is anonymous and the
// same for everyone (no session, no name, no token on it), so it is
// cache-friendly: each answer carries an ETag (a hash of its bytes) and
// Cache-Control: public, and an If-None-Match that matches is a 304 without
// a body. The service computes the page once per change; each form is
// rendered once per computed page and kept (statusOutput), so a request
// for an unchanged page costs a lookup and a header comparison.
//
// What it shows comes from package status, which only ever gets published
// incidents with their customer-facing titles and public updates.

// statusMaxAge is how long browsers and proxies may reuse an answer
// without asking again; after that they revalidate with the ETag.
const statusMaxAge = 10

// statusOutput keeps the rendered forms of the current page, and the
// public updates rendered from Markdown for it: an update's body never
// changes, so a page computed after a change renders only the new ones.
type statusOutput struct {
	mu   sync.Mutex
	page *status.Page
	out  map[string]*rendered
	md   map[int64]renderedUpdate
	// mdNext collects the updates the current page renders; it replaces
	// md when the page changes, so updates no longer shown are dropped.
	mdNext map[int64]renderedUpdate
	// frag keeps what each incident renders to, by kind: an incident the
	// service did not read again is the same *status.Incident on the next
	// page, so a page computed after a change renders only what changed.
	// It turns over with the page like md.
	frag, fragNext map[fragKey][]byte
	// sizes are the last sizes of each form: one allocation for the next,
	// not twenty growing ones.
	sizes map[string]int
}

type fragKey struct {
	inc  *status.Incident
	kind string
}

// size is room for the next rendering of format: its last size and some.
func (o *statusOutput) size(format string) int { return o.sizes[format] + o.sizes[format]/8 }

// fragment returns what inc renders to as kind, rendering it with make if
// it was not rendered for this page or the one before; callers hold o.mu.
func (o *statusOutput) fragment(inc *status.Incident, kind string, make func() []byte) []byte {
	k := fragKey{inc, kind}
	if b, ok := o.fragNext[k]; ok {
		return b
	}
	b, ok := o.frag[k]
	if !ok {
		b = make()
	}
	o.fragNext[k] = b
	return b
}

type renderedUpdate struct {
	body string
	html template.HTML
}

// markdown renders a public update's body, once per update; callers hold
// o.mu.
func (o *statusOutput) markdown(u status.Update) template.HTML {
	r, ok := o.mdNext[u.ID]
	if !ok || r.body != u.Body {
		if r, ok = o.md[u.ID]; !ok || r.body != u.Body {
			r = renderedUpdate{body: u.Body, html: markdown.Render(u.Body)}
		}
		o.mdNext[u.ID] = r
	}
	return r.html
}

// rendered is one form of the page, ready to send.
type rendered struct {
	body        []byte
	etag        string
	contentType string
	csp         string
}

func (w *Web) parseStatus(funcs template.FuncMap) error {
	w.statusPages = map[string]*template.Template{}
	layout, err := template.New("status_layout.html").Funcs(funcs).Funcs(template.FuncMap{
		"markdown": markdown.Render,
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	}).ParseFS(templateFS, "templates/status/status_layout.html")
	if err != nil {
		return fmt.Errorf("parse status layout: %w", err)
	}
	names, err := templateFS.ReadDir("templates/status")
	if err != nil {
		return err
	}
	for _, e := range names {
		if e.Name() == "status_layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/status/"+e.Name())
		if err != nil {
			return fmt.Errorf("parse status/%s: %w", e.Name(), err)
		}
		w.statusPages[strings.TrimSuffix(e.Name(), ".html")] = t
	}
	return nil
}

// statusView is what the status templates get.
type statusView struct {
	Title string
	Site  siteView
	// CSRF is set on the forms' pages for a signed-in visitor (whose
	// session the server's CSRF check then asks for); never on the
	// cached page.
	CSRF   string
	Error  string
	Notice string
	Data   any
}

// siteView is the status page's own header and footer.
type siteView struct {
	Name, LogoURL, OrgURL, OrgHost string
	Email                          bool
}

func (w *Web) site(p *status.Page) siteView {
	s := siteView{Name: p.Settings.Name, LogoURL: p.Settings.LogoURL, OrgURL: p.Settings.OrgURL, Email: w.svc.EmailEnabled()}
	if u, err := url.Parse(s.OrgURL); err == nil {
		s.OrgHost = u.Host
	}
	return s
}

// statusCSP is the page's policy: Quench's own, plus the logo's origin
// for images.
func statusCSP(logo string) string {
	u, err := url.Parse(logo)
	if logo == "" || err != nil || u.Host == "" {
		return CSP
	}
	origin := u.Scheme + "://" + u.Host
	return strings.Replace(CSP, "img-src 'self' data:", "img-src 'self' data: "+origin, 1)
}

// pageOutput returns the current page rendered as format ("html", "json",
// "atom"), rendering it if this page was not rendered so yet.
func (w *Web) pageOutput(r *http.Request, format string) (*rendered, error) {
	p, err := w.svc.StatusPage(r.Context())
	if err != nil {
		return nil, err
	}
	o := &w.statusOut
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.page != p {
		if o.mdNext != nil {
			o.md, o.frag = o.mdNext, o.fragNext
		}
		o.page, o.out, o.mdNext, o.fragNext = p, map[string]*rendered{}, map[int64]renderedUpdate{}, map[fragKey][]byte{}
	}
	if out := o.out[format]; out != nil {
		return out, nil
	}
	out := &rendered{csp: CSP}
	switch format {
	case "html":
		var buf bytes.Buffer
		buf.Grow(o.size("html"))
		v := &statusView{Title: p.Settings.Name, Site: w.site(p), Data: w.pageView(p, o)}
		if err := w.statusPages["status"].ExecuteTemplate(&buf, "status_layout.html", v); err != nil {
			return nil, err
		}
		out.body, out.contentType, out.csp = buf.Bytes(), "text/html; charset=utf-8", statusCSP(p.Settings.LogoURL)
	case "json":
		b, err := w.pageJSON(p, o)
		if err != nil {
			return nil, err
		}
		out.body, out.contentType = append(b, '\n'), "application/json"
	case "atom":
		b, err := w.pageAtom(p, o)
		if err != nil {
			return nil, err
		}
		out.body, out.contentType = b, "application/atom+xml; charset=utf-8"
	}
	if o.sizes == nil {
		o.sizes = map[string]int{}
	}
	o.sizes[format] = len(out.body)
	sum := sha256.Sum256(out.body)
	out.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	o.out[format] = out
	return out, nil
}

func (w *Web) statusHTML(rw http.ResponseWriter, r *http.Request) { w.serveStatus(rw, r, "html") }
func (w *Web) statusJSON(rw http.ResponseWriter, r *http.Request) { w.serveStatus(rw, r, "json") }
func (w *Web) statusAtom(rw http.ResponseWriter, r *http.Request) { w.serveStatus(rw, r, "atom") }

func (w *Web) serveStatus(rw http.ResponseWriter, r *http.Request, format string) {
	out, err := w.pageOutput(r, format)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	h := rw.Header()
	h.Set("ETag", out.etag)
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", statusMaxAge))
	if etagMatch(r.Header.Get("If-None-Match"), out.etag) {
		rw.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", out.contentType)
	h.Set("Content-Security-Policy", out.csp)
	rw.Write(out.body)
}

// etagMatch reports whether an If-None-Match header names etag (weakly,
// as RFC 9110 says for GET).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// pageData is the HTML page's content.
type pageData struct {
	Page       *status.Page
	Overall    string
	Components []groupView
	Open       []incidentView
	Maint      []maintView
	Past       []pastView
	First      time.Time
}

type groupView struct {
	Name       string
	Components []componentView
}

type componentView struct {
	*status.ComponentView
	Label string
	// Days are the cells of the history bar, written here rather than by
	// a template loop: 50 components make 4,500 cells.
	Days template.HTML
}

type incidentView struct {
	*status.Incident
	State   string
	Class   string // the state in lower case, for the style sheet
	Impact  string
	Updates []updateHTML
	// Began and Ended are <time> elements, written once here: the past
	// incidents' list holds a thousand of them.
	Began, Ended template.HTML
}

// timeHTML is a <time> element for t (formatted times need no escaping).
func timeHTML(t time.Time) template.HTML {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `">` + t.Format("2006-01-02 15:04 UTC") + `</time>`)
}

type updateHTML struct {
	At   time.Time
	Body template.HTML
}

type maintView struct {
	*status.Maintenance
	InProgress bool
	Body       template.HTML
	Components []string
}

type pastView struct {
	Date   time.Time
	Anchor string
	// Incidents are the day's list items, each written once per incident
	// (a thousand of them make a long list).
	Incidents template.HTML
}

// stateWord is where an incident stands, for customers.
func stateWord(i *status.Incident) string {
	switch {
	case i.Phase == incident.Active:
		return "Investigating"
	case i.Open():
		return "Monitoring"
	}
	return "Resolved"
}

// incidentHTML is an incident for the page; its updates are rendered with
// md, nil leaves them out (past incidents list their times only).
func incidentHTML(i *status.Incident, md func(status.Update) template.HTML) incidentView {
	v := incidentView{Incident: i, State: stateWord(i), Class: strings.ToLower(stateWord(i)), Impact: status.Impact(i.Severity).Label(),
		Began: timeHTML(i.Started), Ended: timeHTML(i.Resolved)}
	for _, u := range i.Updates {
		if md != nil {
			v.Updates = append(v.Updates, updateHTML{At: u.At, Body: md(u)})
		}
	}
	return v
}

// historyBar writes a component's history as list items: a class per
// state, and for a day with incidents a title (shown on hover) naming them
// and a link to the first. Text goes through HTMLEscapeString, which
// makes it safe in element content and in quoted attributes alike.
func historyBar(days []status.Day) template.HTML {
	var b strings.Builder
	b.Grow(len(days) * 40)
	for _, day := range days {
		b.WriteString(`<li class="day s-`)
		b.WriteString(template.HTMLEscapeString(string(day.State)))
		if len(day.Incidents) == 0 {
			b.WriteString(`"></li>`)
			continue
		}
		titles := make([]string, len(day.Incidents))
		for k, inc := range day.Incidents {
			titles[k] = inc.Title
		}
		date := day.Date.Format("2 Jan 2006") + ": " + day.State.Label()
		title := template.HTMLEscapeString(date + " — " + strings.Join(titles, "; "))
		b.WriteString(`" title="` + title + `"><a href="#incident-` + template.HTMLEscapeString(day.Incidents[0].ID) + `">`)
		fmt.Fprintf(&b, `<span class="sr">%s, %d incident(s)</span></a></li>`, template.HTMLEscapeString(date), len(day.Incidents))
	}
	return template.HTML(b.String())
}

// pastItem is a past incident's list item. Text goes through
// HTMLEscapeString, which makes it safe in element content and in quoted
// attributes alike.
func pastItem(i *status.Incident) []byte {
	v := incidentHTML(i, nil)
	ended := ""
	if v.Ended != "" {
		ended = " · resolved " + string(v.Ended)
	}
	if m := mergedNote(i); m != "" {
		ended += " · " + string(m)
	}
	return fmt.Appendf(nil, `<li class="incident s-%s" id="incident-%s"><p><strong>%s</strong> <span class="muted">%s · began %s%s</span></p></li>`,
		v.Class, template.HTMLEscapeString(i.ID), template.HTMLEscapeString(i.Title), template.HTMLEscapeString(v.Impact), v.Began, ended)
}

// mergedNote points a merged incident to the one it continues in, by
// that one's public ID and title when customers see it, else only says
// there is one: the team's numbers and confidential incidents never show.
func mergedNote(i *status.Incident) template.HTML {
	if i.Ended != incident.Merged {
		return ""
	}
	if i.MergedInto == "" {
		return "continued in another incident"
	}
	return template.HTML(`continued in <a href="/status#incident-` + template.HTMLEscapeString(i.MergedInto) + `">` +
		template.HTMLEscapeString(i.MergedIntoTitle) + `</a>`)
}

// historyKey names a component's history bar by everything it shows: its
// days, their states and their incidents' ids and titles, so an unchanged
// bar is written once.
func historyKey(c *status.ComponentView) string {
	h := sha256.New()
	var b [8]byte
	for _, d := range c.History {
		binary.LittleEndian.PutUint64(b[:], uint64(d.Date.Unix())<<8|uint64(d.State.Rank()))
		h.Write(b[:])
		for _, inc := range d.Incidents {
			h.Write([]byte(inc.ID + "\x00" + inc.Title + "\x00"))
		}
	}
	return fmt.Sprintf("bar %d %x", c.ID, h.Sum(nil))
}

func (w *Web) pageView(p *status.Page, o *statusOutput) *pageData {
	md := o.markdown
	d := &pageData{Page: p, Overall: "All systems operational", First: p.Days[0]}
	if !p.AllOperational() {
		d.Overall = p.Overall.Label()
	}
	names := map[int64]string{}
	for _, g := range p.Groups {
		gv := groupView{Name: g.Name}
		for _, c := range g.Components {
			names[c.ID] = c.Name
			bar := o.fragment(nil, historyKey(c), func() []byte { return []byte(historyBar(c.History)) })
			gv.Components = append(gv.Components, componentView{ComponentView: c, Label: c.State.Label(), Days: template.HTML(bar)})
		}
		d.Components = append(d.Components, gv)
	}
	for _, i := range p.Open {
		d.Open = append(d.Open, incidentHTML(i, md))
	}
	for _, m := range p.Maintenance {
		mv := maintView{Maintenance: m, InProgress: p.InProgress[m.ID], Body: markdown.Render(m.Body)}
		for _, id := range m.Components {
			if n, ok := names[id]; ok {
				mv.Components = append(mv.Components, n)
			}
		}
		d.Maint = append(d.Maint, mv)
	}
	for _, day := range p.Past {
		pv := pastView{Date: day.Date, Anchor: "day-" + day.Date.Format("2006-01-02")}
		var items []byte
		for _, i := range day.Incidents {
			items = append(items, o.fragment(i, "past", func() []byte { return pastItem(i) })...)
		}
		pv.Incidents = template.HTML(items)
		d.Past = append(d.Past, pv)
	}
	return d
}

// The JSON form (/status.json, StatusPage in docs/openapi.yaml).

// statusJSON is the page but its incidents, which follow it in the
// document as "incidents" and "past_incidents": lists of
// statusIncidentJSON, each encoded once per incident.
type statusJSON struct {
	Page        pageInfoJSON          `json:"page"`
	Status      stateJSON             `json:"status"`
	Components  []componentJSON       `json:"components"`
	Maintenance []statusMaintenanceJS `json:"maintenance"`
}

type pageInfoJSON struct {
	Name         string    `json:"name"`
	URL          string    `json:"url"`
	LogoURL      string    `json:"logo_url,omitempty"`
	OrgURL       string    `json:"org_url,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
	HistoryStart string    `json:"history_start"`
	HistoryDays  int       `json:"history_days"`
}

type stateJSON struct {
	Indicator   status.State `json:"indicator"`
	Description string       `json:"description"`
}

type componentJSON struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Group       string       `json:"group"`
	Status      status.State `json:"status"`
	// History lists the days of the window that were not operational.
	History []dayJSON `json:"history"`
}

type dayJSON struct {
	Date      string       `json:"date"`
	Status    status.State `json:"status"`
	Incidents []string     `json:"incidents"`
}

type statusIncidentJSON struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	State       string       `json:"state"`
	Impact      status.State `json:"impact"`
	Components  []int64      `json:"components"`
	StartedAt   time.Time    `json:"started_at"`
	MitigatedAt *time.Time   `json:"mitigated_at,omitempty"`
	ResolvedAt  *time.Time   `json:"resolved_at,omitempty"`
	URL         string       `json:"url"`
	Updates     []updateJSON `json:"updates"`
	// MergedInto is, for an incident merged into another that customers
	// see, that one's id; Merged is set for every merged one.
	Merged     bool   `json:"merged,omitempty"`
	MergedInto string `json:"merged_into,omitempty"`
}

type updateJSON struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

type statusMaintenanceJS struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
	InProgress bool      `json:"in_progress"`
	Components []int64   `json:"components"`
}

func optional(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (w *Web) incidentJSON(p *status.Page, i *status.Incident) statusIncidentJSON {
	j := statusIncidentJSON{ID: i.ID, Title: i.Title, State: strings.ToLower(stateWord(i)), Impact: status.Impact(i.Severity),
		Components: []int64{}, StartedAt: i.Started.UTC(), MitigatedAt: optional(i.Mitigated), ResolvedAt: optional(i.Resolved),
		URL: w.baseURL + "/status#incident-" + i.ID, Updates: []updateJSON{},
		Merged: i.Ended == incident.Merged, MergedInto: i.MergedInto}
	for _, c := range p.Components {
		if c.Affects(i.Services) {
			j.Components = append(j.Components, c.ID)
		}
	}
	for _, u := range i.Updates {
		j.Updates = append(j.Updates, updateJSON{ID: u.ID, Body: u.Body, CreatedAt: u.At.UTC()})
	}
	return j
}

func (w *Web) pageJSON(p *status.Page, o *statusOutput) ([]byte, error) {
	j := statusJSON{Page: pageInfoJSON{Name: p.Settings.Name, URL: w.baseURL + "/status", LogoURL: p.Settings.LogoURL,
		OrgURL: p.Settings.OrgURL, UpdatedAt: p.Updated.UTC(), HistoryStart: p.Days[0].Format("2006-01-02"), HistoryDays: len(p.Days)},
		Status:     stateJSON{Indicator: p.Overall, Description: p.Overall.Label()},
		Components: []componentJSON{}, Maintenance: []statusMaintenanceJS{}}
	// An incident's JSON names the components it touches: it is kept for
	// one set of components.
	var comps strings.Builder
	for _, c := range p.Components {
		fmt.Fprintf(&comps, "%d:%q ", c.ID, c.Services)
	}
	kind := "json " + comps.String()
	encode := func(list []byte, i *status.Incident) []byte {
		if list[len(list)-1] != '[' {
			list = append(list, ',')
		}
		return append(list, o.fragment(i, kind, func() []byte {
			b, _ := json.Marshal(w.incidentJSON(p, i))
			return b
		})...)
	}
	if p.AllOperational() {
		j.Status.Description = "All systems operational"
	}
	for _, c := range p.Components {
		cj := componentJSON{ID: c.ID, Name: c.Name, Description: c.Description, Group: c.Group, Status: c.State, History: []dayJSON{}}
		for _, d := range c.History {
			if len(d.Incidents) == 0 && d.State == status.Operational {
				continue
			}
			dj := dayJSON{Date: d.Date.Format("2006-01-02"), Status: d.State}
			for _, i := range d.Incidents {
				dj.Incidents = append(dj.Incidents, i.ID)
			}
			cj.History = append(cj.History, dj)
		}
		j.Components = append(j.Components, cj)
	}
	open, past := []byte(`,"incidents":[`), append(make([]byte, 0, o.size("json")), `],"past_incidents":[`...)
	for _, i := range p.Open {
		open = encode(open, i)
	}
	for _, d := range p.Past {
		for _, i := range d.Incidents {
			past = encode(past, i)
		}
	}
	for _, m := range p.Maintenance {
		mj := statusMaintenanceJS{ID: m.ID, Title: m.Title, Body: m.Body, StartsAt: m.Start.UTC(), EndsAt: m.End.UTC(),
			InProgress: p.InProgress[m.ID], Components: m.Components}
		if mj.Components == nil {
			mj.Components = []int64{}
		}
		j.Maintenance = append(j.Maintenance, mj)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	b = append(append(b[:len(b)-1], open...), past...)
	return append(b, "]}"...), nil
}

// The Atom form (RFC 4287): one entry per published incident the page
// shows, open or past, newest first.

type atomFeed struct {
	XMLName xml.Name   `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Links   []atomLink `xml:"link"`
	Author  atomAuthor `xml:"author"`
	// Entries are atomEntry elements, encoded once per incident.
	Entries []byte `xml:",innerxml"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	XMLName   xml.Name    `xml:"entry"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Published string      `xml:"published"`
	Links     []atomLink  `xml:"link"`
	Content   atomContent `xml:"content"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (w *Web) pageAtom(p *status.Page, o *statusOutput) ([]byte, error) {
	page := w.baseURL + "/status"
	f := atomFeed{ID: page, Title: p.Settings.Name, Updated: atomTime(p.Updated), Author: atomAuthor{Name: p.Settings.Name},
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: page}, {Rel: "self", Type: "application/atom+xml", Href: page + ".atom"}}}
	all := append([]*status.Incident{}, p.Open...)
	for _, d := range p.Past {
		all = append(all, d.Incidents...)
	}
	f.Entries = make([]byte, 0, o.size("atom"))
	for _, i := range all {
		f.Entries = append(f.Entries, o.fragment(i, "atom", func() []byte { return w.atomEntry(page, i, o.markdown) })...)
	}
	b, err := xml.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(xml.Header), b...), '\n'), nil
}

// atomEntry is the entry of a published incident: its state and public
// updates, as HTML in the content.
func (w *Web) atomEntry(page string, i *status.Incident, md func(status.Update) template.HTML) []byte {
	updated := i.Started
	for _, t := range []time.Time{i.Mitigated, i.Resolved, i.PublishedAt} {
		if t.After(updated) {
			updated = t
		}
	}
	var body strings.Builder
	fmt.Fprintf(&body, "<p><strong>%s</strong> · %s</p>", template.HTMLEscapeString(stateWord(i)),
		template.HTMLEscapeString(status.Impact(i.Severity).Label()))
	if m := mergedNote(i); m != "" {
		fmt.Fprintf(&body, "<p>%s</p>", m)
	}
	for _, u := range i.Updates {
		if u.At.After(updated) {
			updated = u.At
		}
		fmt.Fprintf(&body, "<p><em>%s</em></p>%s", atomTime(u.At), md(u))
	}
	published := i.PublishedAt
	if published.IsZero() {
		published = i.Started
	}
	href := page + "#incident-" + i.ID
	b, _ := xml.Marshal(atomEntry{ID: href, Title: i.Title, Updated: atomTime(updated), Published: atomTime(published),
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: href}}, Content: atomContent{Type: "html", Body: body.String()}})
	return b
}

// statusPageFor is the header and footer of the forms' pages, from the
// current page.
func (w *Web) statusSite(r *http.Request) (siteView, error) {
	p, err := w.svc.StatusPage(r.Context())
	if err != nil {
		return siteView{}, err
	}
	return w.site(p), nil
}

// renderStatus renders one of the status forms' pages, never cached.
func (w *Web) renderStatus(rw http.ResponseWriter, r *http.Request, code int, name string, v *statusView) {
	if p := auth.From(r.Context()); p.Session != nil {
		v.CSRF = p.Session.CSRF
	}
	var buf bytes.Buffer
	if err := w.statusPages[name].ExecuteTemplate(&buf, "status_layout.html", v); err != nil {
		w.log.Error("render failed", "template", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", statusCSP(v.Site.LogoURL))
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(code)
	rw.Write(buf.Bytes())
}
