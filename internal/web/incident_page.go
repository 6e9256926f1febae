package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// phaseRow is one step of the phase track.
// alertsShown is how many of an incident's alerts its page lists unless
// asked for all.
const alertsShown = 50

// eventsShown is how many of the newest timeline events the page lists
// unless asked for all (an alert storm writes many).
const eventsShown = 200

type phaseRow struct {
	Phase     incident.Phase
	Reached   bool
	Current   bool
	EnteredAt time.Time
	Owner     string
	Note      string // the note of the transition into this phase
}

type updateView struct {
	*incident.Update
	Body        template.HTML
	Attachments []*incident.Attachment
}

type itemGroup struct {
	Phase incident.Phase
	Items []*incident.ChecklistItem
}

type eventView struct {
	*incident.TimelineEntry
	Sentence string
}

type incidentData struct {
	Inc         *incident.Incident
	Summary     template.HTML
	Track       []phaseRow
	Next        incident.Phase
	NoteName    string
	OpenItems   []string
	NeedImprove bool
	Reopenable  bool
	// Cancellable and Mergeable offer the two ends beside closed.
	Cancellable, Mergeable bool
	Updates                []updateView
	Files                  []*incident.Attachment // the incident's own files
	Checklist              []itemGroup
	Links                  []*incident.Link
	Timeline               []eventView
	// TimelineTotal counts the events; AllEvents says the page asked for
	// every one of them.
	TimelineTotal int
	AllEvents     bool
	Alerts        []*alert.Record
	// AlertsTotal counts the incident's alerts; Alerts holds the newest
	// alertsShown of them unless the page asked for all.
	AlertsTotal int
	Members     []service.Member
	Writer      bool
	Team        bool
	// Form keeps what was typed when an action failed; FormName says which.
	Form     url.Values
	FormName string
	Owners   map[string]string
	Labels   string
	Kinds    []incident.LinkKind
	Sources  []incident.Source
	Phases   []incident.Phase
	MaxFile  int
	// Deliveries are the notifications about the incident; team only.
	Deliveries []deliveryView
	// Me is who looks, for "Take it"; OwnerRows the side panel's owners.
	Me        string
	OwnerRows []phaseRow
	ItemCount int
	// NewestFirst orders the timeline (?timeline=newest).
	NewestFirst bool
}

// NoteLabel names the note that completed the move into phase p.
func (d *incidentData) NoteLabel(p incident.Phase) string {
	return strings.ToUpper(p.NoteName()[:1]) + p.NoteName()[1:] + ":"
}

func (w *Web) incidentPage(rw http.ResponseWriter, r *http.Request) {
	w.showIncident(rw, r, http.StatusOK, "", nil, "")
}

// showIncident renders the page; an action that failed passes its message,
// the user's input and the form's name, so nothing typed is lost.
func (w *Web) showIncident(rw http.ResponseWriter, r *http.Request, status int, msg string, form url.Values, formName string) {
	p := auth.From(r.Context())
	n, err := number(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d, err := w.incidentData(r, p, n)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d.Form, d.FormName = form, formName
	if d.Form == nil {
		d.Form = url.Values{}
	}
	pg := w.newPage(r, fmt.Sprintf("#%d %s", d.Inc.Number, d.Inc.Title), d)
	pg.Error = msg
	pg.Notice = r.URL.Query().Get("notice")
	w.render(rw, r, status, "incident", pg)
}

func number(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil || n <= 0 {
		return 0, problem.New(problem.NotFound, "not_found", "There is no incident %q.", r.PathValue("number"))
	}
	return n, nil
}

func (w *Web) incidentData(r *http.Request, p auth.Principal, n int64) (*incidentData, error) {
	ctx := r.Context()
	inc, err := w.svc.Incident(ctx, p, n)
	if err != nil {
		return nil, err
	}
	d := &incidentData{Inc: inc, Team: p.Can(auth.ReadAll), Writer: p.Can(auth.WriteIncidents),
		Kinds: incident.LinkKinds, Sources: incident.Sources, Phases: incident.OwnedPhases, MaxFile: service.MaxAttachmentBytes >> 20,
		Owners: map[string]string{}}
	md := w.markdownFor(r, p)
	d.Summary = md.Render(inc.Summary)
	for _, ph := range incident.Phases {
		at, reached := inc.EnteredAt[ph]
		d.Track = append(d.Track, phaseRow{Phase: ph, Reached: reached, Current: ph == inc.Phase, EnteredAt: at,
			Owner: inc.Owners[ph], Note: inc.Notes[ph]})
		d.Owners[string(ph)] = inc.Owners[ph]
	}
	d.Me = p.Name()
	for _, row := range d.Track {
		if slices.Contains(incident.OwnedPhases, row.Phase) {
			d.OwnerRows = append(d.OwnerRows, row)
		}
	}
	if next, ok := inc.Phase.Next(); ok {
		d.Next, d.NoteName = next, next.NoteName()
		d.NeedImprove = next == incident.Closed && inc.DetectionSource.NeedsDetectionImprovement() && inc.DetectionImprovement == ""
	}
	d.Reopenable = inc.Phase != incident.Active
	d.Cancellable = !inc.Ended() && (inc.Phase == incident.Active || inc.Phase == incident.Mitigated)
	d.Mergeable = !inc.Ended() && inc.Phase != incident.Closed
	if inc.Ended() {
		// A merged or cancelled incident is in no phase to advance from;
		// only a cancelled one can be reopened.
		d.Next, d.NoteName, d.NeedImprove = "", "", false
		d.Reopenable = inc.EndState == incident.Cancelled
	}
	labels := make([]string, 0, len(inc.Labels))
	for k, v := range inc.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	d.Labels = strings.Join(labels, "\n")

	updates, err := w.svc.Updates(ctx, p, n)
	if err != nil {
		return nil, err
	}
	files, err := w.svc.Attachments(ctx, p, n)
	if err != nil {
		return nil, err
	}
	byUpdate := map[int64][]*incident.Attachment{}
	for _, f := range files {
		if f.Update == 0 {
			d.Files = append(d.Files, f)
		} else {
			byUpdate[f.Update] = append(byUpdate[f.Update], f)
		}
	}
	// Newest first: the composer sits above the list.
	for i := len(updates) - 1; i >= 0; i-- {
		u := updates[i]
		d.Updates = append(d.Updates, updateView{Update: u, Body: md.Render(u.Body), Attachments: byUpdate[u.ID]})
	}

	items, err := w.svc.Checklist(ctx, p, n)
	if err != nil {
		return nil, err
	}
	d.ItemCount = len(items)
	for _, ph := range incident.OwnedPhases {
		g := itemGroup{Phase: ph}
		for _, it := range items {
			if it.Phase == ph {
				g.Items = append(g.Items, it)
				if ph == inc.Phase && !it.Done {
					d.OpenItems = append(d.OpenItems, it.Text)
				}
			}
		}
		d.Checklist = append(d.Checklist, g)
	}
	if d.Links, err = w.svc.Links(ctx, p, n); err != nil {
		return nil, err
	}
	timeline, err := w.svc.Timeline(ctx, p, n)
	if err != nil {
		return nil, err
	}
	for _, e := range timeline {
		body := ""
		if e.Update != nil {
			body = e.Update.Body
		}
		d.Timeline = append(d.Timeline, eventView{TimelineEntry: e, Sentence: e.Sentence(body)})
	}
	d.TimelineTotal, d.AllEvents = len(d.Timeline), r.URL.Query().Get("events") == "all"
	if d.TimelineTotal > eventsShown && !d.AllEvents {
		d.Timeline = d.Timeline[d.TimelineTotal-eventsShown:]
	}
	if d.NewestFirst = r.URL.Query().Get("timeline") == "newest"; d.NewestFirst {
		slices.Reverse(d.Timeline)
	}
	if d.Team {
		// A storm attaches thousands: the page reads and shows the newest,
		// and all on request.
		if r.URL.Query().Get("alerts") == "all" {
			d.Alerts, err = w.svc.IncidentAlerts(ctx, p, n)
			d.AlertsTotal = len(d.Alerts)
		} else {
			d.Alerts, d.AlertsTotal, err = w.svc.NewestIncidentAlerts(ctx, p, n, alertsShown)
		}
		if err != nil {
			return nil, err
		}
		if d.Members, err = w.svc.Members(ctx, p); err != nil {
			return nil, err
		}
		if d.Deliveries, err = w.incidentDeliveries(r, p, n); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// markdownFor links "#123" only to incidents this viewer may see.
func (w *Web) markdownFor(r *http.Request, p auth.Principal) markdown.Renderer {
	seen := map[int64]*incident.Incident{}
	return markdown.Renderer{IncidentLink: func(n int64) (string, string, bool) {
		inc, ok := seen[n]
		if !ok {
			inc, _ = w.svc.Incident(r.Context(), p, n)
			seen[n] = inc
		}
		if inc == nil {
			return "", "", false
		}
		return fmt.Sprintf("/incidents/%d", n), inc.Title, true
	}}
}

// action is a form handler: it returns where to go next (an anchor on the
// incident page) or an error to show on the page with the form's input.
type action func(r *http.Request, p auth.Principal, n int64) (anchor string, err error)

// act wraps an action in POST-redirect-GET: success redirects to the page
// (303), failure re-renders it with the message and what was typed.
func (w *Web) act(a action) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p := auth.From(r.Context())
		if p.IsAnonymous() {
			w.fail(rw, r, errSignIn)
			return
		}
		n, err := number(r)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			r.Body = http.MaxBytesReader(rw, r.Body, 256<<10)
			if err := r.ParseForm(); err != nil {
				w.fail(rw, r, problem.New(problem.TooLarge, "too_large", "The form is too large."))
				return
			}
		}
		anchor, err := a(r, p, n)
		if err == nil {
			http.Redirect(rw, r, fmt.Sprintf("/incidents/%d#%s", n, anchor), http.StatusSeeOther)
			return
		}
		pr, ok := problem.As(err)
		switch {
		case !ok, pr.Kind == problem.Internal, pr.Kind == problem.Unavailable, pr.Kind == problem.NotFound,
			pr.Kind == problem.Unauthenticated, pr.Kind == problem.Forbidden:
			w.fail(rw, r, err)
			return
		}
		w.showIncident(rw, r, problem.HTTPStatus(pr.Kind), pr.Message, r.PostForm, r.PostForm.Get("form"))
	}
}

func (w *Web) transitionAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	to, err := incident.ParsePhase(r.PostForm.Get("to"))
	if err != nil {
		return "", err
	}
	_, err = w.svc.Transition(r.Context(), p, n, incident.TransitionRequest{To: to, Note: r.PostForm.Get("note"),
		Override: r.PostForm.Get("override") != "", DetectionImprovement: r.PostForm.Get("detection_improvement"),
		Reason: r.PostForm.Get("reason")})
	return "phases", err
}

func (w *Web) mergeAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	into, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("into")), "#"), 10, 64)
	if err != nil || into <= 0 {
		return "", problem.Unprocessablef("say which incident this one duplicates: its number")
	}
	_, err = w.svc.MergeIncident(r.Context(), p, n, into, r.PostForm.Get("reason"))
	return "end", err
}

func (w *Web) cancelAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	_, err := w.svc.CancelIncident(r.Context(), p, n, r.PostForm.Get("reason"))
	return "end", err
}

func (w *Web) postUpdateAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	u, err := w.svc.PostUpdate(r.Context(), p, n, r.PostForm.Get("body"), incident.Visibility(r.PostForm.Get("visibility")))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("update-%d", u.ID), nil
}

func (w *Web) updateVisibilityAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", problem.New(problem.NotFound, "not_found", "no such update")
	}
	_, err = w.svc.SetUpdateVisibility(r.Context(), p, n, id, incident.Visibility(r.PostForm.Get("visibility")))
	return fmt.Sprintf("update-%d", id), err
}

func (w *Web) addItemAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	_, err := w.svc.AddChecklistItem(r.Context(), p, n, service.NewChecklistItem{Text: r.PostForm.Get("text"),
		Phase: incident.Phase(r.PostForm.Get("phase")), Owner: r.PostForm.Get("owner"), Visibility: incident.Visibility(r.PostForm.Get("visibility"))})
	return "checklist", err
}

// changeItemAction ticks, unticks, assigns or removes an item.
func (w *Web) changeItemAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", problem.New(problem.NotFound, "not_found", "no such checklist item")
	}
	switch r.PostForm.Get("do") {
	case "tick", "untick":
		done := r.PostForm.Get("do") == "tick"
		_, err = w.svc.ChangeChecklistItem(r.Context(), p, n, id, service.ChecklistPatch{Done: &done})
	case "assign":
		owner := r.PostForm.Get("owner")
		_, err = w.svc.ChangeChecklistItem(r.Context(), p, n, id, service.ChecklistPatch{Owner: &owner})
	case "remove":
		err = w.svc.RemoveChecklistItem(r.Context(), p, n, id)
	case "public", "internal":
		vis := incident.Visibility(r.PostForm.Get("do"))
		_, err = w.svc.ChangeChecklistItem(r.Context(), p, n, id, service.ChecklistPatch{Visibility: &vis})
	default:
		err = problem.Invalidf("unknown checklist action")
	}
	return "checklist", err
}

func (w *Web) addLinkAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	_, err := w.svc.AddLink(r.Context(), p, n, service.NewLink{Kind: incident.LinkKind(r.PostForm.Get("kind")),
		URL: r.PostForm.Get("url"), Title: r.PostForm.Get("title"), Visibility: incident.Visibility(r.PostForm.Get("visibility"))})
	return "links", err
}

func (w *Web) removeLinkAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", problem.New(problem.NotFound, "not_found", "no such link")
	}
	return "links", w.svc.RemoveLink(r.Context(), p, n, id)
}

// uploadAction takes the file picker's multipart form (the CSRF token
// travels in the query, checked before the body is read).
func (w *Web) uploadAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, service.MaxAttachmentBytes+64<<10)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", problem.New(problem.TooLarge, "too_large", "Files are limited to %d MiB.", service.MaxAttachmentBytes>>20)
		}
		return "", problem.Invalidf("choose a file to upload")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, service.MaxAttachmentBytes+1))
	if err != nil {
		return "", problem.Invalidf("the upload broke off")
	}
	up := service.NewAttachment{Filename: hdr.Filename, Data: data, Visibility: incident.Visibility(r.FormValue("visibility"))}
	if u := r.FormValue("update"); u != "" {
		if up.Update, err = strconv.ParseInt(u, 10, 64); err != nil {
			return "", problem.Invalidf("unknown update")
		}
	}
	_, err = w.svc.AddAttachment(r.Context(), p, n, up)
	return "files", err
}

// editAction changes the incident's fields; owners per phase included.
func (w *Web) editAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	f := r.PostForm
	title, summary, improvement := f.Get("title"), f.Get("summary"), f.Get("detection_improvement")
	sev, src, vis := incident.Severity(f.Get("severity")), incident.Source(f.Get("detection_source")), incident.Visibility(f.Get("visibility"))
	services := splitList(f.Get("services"))
	labels := map[string]string{}
	for _, line := range strings.Split(f.Get("labels"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return "", problem.Unprocessablef("labels are name=value lines; %q is not", line)
		}
		labels[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	owners := map[incident.Phase]string{}
	for _, ph := range incident.OwnedPhases {
		if v, ok := f["owner_"+string(ph)]; ok {
			owners[ph] = v[0]
		}
	}
	_, err := w.svc.UpdateIncident(r.Context(), p, n, incident.Patch{Title: &title, Summary: &summary, Severity: &sev,
		DetectionSource: &src, Visibility: &vis, Services: &services, Labels: &labels, Owners: owners, DetectionImprovement: &improvement})
	return "details", err
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ownerAction sets the owner of one phase from the side panel: a chosen
// member, or the one who pressed "Take it".
func (w *Web) ownerAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	f := r.PostForm
	ph := incident.Phase(f.Get("phase"))
	if !slices.Contains(incident.OwnedPhases, ph) {
		return "", problem.Unprocessablef("phase %q has no owner: owners exist for active, mitigated and resolved", ph)
	}
	who := f.Get("owner")
	if f.Get("take") != "" {
		who = p.Name()
	}
	_, err := w.svc.UpdateIncident(r.Context(), p, n, incident.Patch{Owners: map[incident.Phase]string{ph: who}})
	return "owners", err
}
