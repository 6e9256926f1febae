package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

type alertsData struct {
	Alerts     []*alert.Record
	Groups     []alertGroup
	Open       []*incident.Incident
	Snoozes    []*alert.Snooze
	Status     string
	Unattached bool
	Dismissed  string
	Match      string
	Writer     bool
	// Waiting counts the firing alerts in the inbox, over all of it.
	Waiting int64
	// Back is this view's address, where triage forms return.
	Back string
	// SnoozeMatchers pre-fills the snooze form (a group's "snooze
	// alerts like these").
	SnoozeMatchers string
	// Undo offers to take back the triage just done.
	Undo *undoOffer
}

// undoOffer is the "undo" shown right after an acknowledgement or a
// dismissal: a form posting the same alerts to the undoing action, so it
// works without JavaScript.
type undoOffer struct {
	Action, Message string
	IDs             []int64
}

// Undo links carry the alerts in the address: up to maxUndoAlerts of
// them (a bulk action on more is undone from the list).
const maxUndoAlerts = 100

// undoParams are the query parameters of an undo offer, left out of the
// view's own address.
var undoParams = []string{"undo", "undo_alert"}

// undoFrom reads the undo offer of a view's address, if any.
func undoFrom(q url.Values) *undoOffer {
	var ids []int64
	for _, v := range q["undo_alert"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 || len(ids) == maxUndoAlerts {
			return nil
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	what := "alert"
	if len(ids) > 1 {
		what = strconv.Itoa(len(ids)) + " alerts"
	}
	switch q.Get("undo") {
	case "unack":
		return &undoOffer{Action: "/alerts/unack", Message: "Acknowledged " + what + ".", IDs: ids}
	case "restore":
		return &undoOffer{Action: "/alerts/restore", Message: "Dismissed " + what + ".", IDs: ids}
	}
	return nil
}

// withUndo adds an undo offer for ids to an inbox address.
func withUndo(to, undo string, ids []int64) string {
	if len(ids) > maxUndoAlerts {
		return to
	}
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("undo", undo)
	for _, id := range ids {
		q.Add("undo_alert", strconv.FormatInt(id, 10))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// alertGroup is the alerts of one group key (one problem, as the sender
// grouped them), shown together and collapsible.
type alertGroup struct {
	ID, Name string
	// SnoozeURL shows this view with the snooze form filled with the
	// labels every alert of the group shares.
	SnoozeURL                          string
	Alerts                             []alertRow
	Firing, Inbox, Acked, DismissedNum int
}

// commonMatchers are matchers for the labels every alert of rows shares,
// sorted by name.
func commonMatchers(rows []alertRow) string {
	if len(rows) == 0 {
		return ""
	}
	var names []string
	for k, v := range rows[0].Labels {
		shared := true
		for _, r := range rows[1:] {
			if w, ok := r.Labels[k]; !ok || w != v {
				shared = false
				break
			}
		}
		if shared {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		m, err := alert.NewMatcher(k, alert.MatchEqual, rows[0].Labels[k])
		if err == nil {
			parts = append(parts, m.String())
		}
	}
	return strings.Join(parts, ", ")
}

// alertRow is an alert with the snooze that keeps it quiet, if any.
type alertRow struct {
	*alert.Record
	Snooze *alert.Snooze
}

// groupAlerts groups alerts by integration and group key, in the order
// their first alert is listed; an alert without a group key is grouped by
// its alertname.
func groupAlerts(list []*alert.Record, snoozes []*alert.Snooze, now time.Time) []alertGroup {
	var out []alertGroup
	at := map[string]int{}
	for _, r := range list {
		key, name := r.IntegrationID+"\x00"+r.GroupKey, r.GroupKey
		if r.GroupKey == "" {
			n := r.Labels["alertname"]
			if n == "" {
				n = r.Title
			}
			key, name = r.IntegrationID+"\x00\x00"+n, n
		}
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, alertGroup{ID: "group-" + strconv.Itoa(i+1), Name: name})
		}
		g := &out[i]
		row := alertRow{Record: r}
		if r.Incident == 0 && r.Status == alert.Firing {
			for _, sn := range snoozes {
				if sn.Matches(now, r.Labels) {
					row.Snooze = sn
					break
				}
			}
		}
		g.Alerts = append(g.Alerts, row)
		if r.Status == alert.Firing {
			g.Firing++
		}
		if r.Incident == 0 && !r.Dismissed() {
			g.Inbox++
		}
		if r.Acked() {
			g.Acked++
		}
		if r.Dismissed() {
			g.DismissedNum++
		}
	}
	return out
}

// alertsPage is the inbox: what the monitoring said that is not (yet) part
// of an incident comes first.
func (w *Web) alertsPage(rw http.ResponseWriter, r *http.Request) {
	w.showAlerts(rw, r, http.StatusOK, "")
}

func (w *Web) showAlerts(rw http.ResponseWriter, r *http.Request, status int, msg string) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, errSignIn)
		return
	}
	q := r.URL.Query()
	d := alertsData{Status: q.Get("status"), Unattached: q.Get("unattached") != "", Dismissed: q.Get("dismissed"), Match: q.Get("match"),
		Writer: p.Can(auth.WriteIncidents), Back: r.URL.Path, SnoozeMatchers: q.Get("snooze")}
	d.Undo = undoFrom(q)
	if r.URL.Path == "/alerts" {
		own := url.Values{}
		for k, vs := range q {
			if !slices.Contains(undoParams, k) {
				own[k] = vs
			}
		}
		if e := own.Encode(); e != "" {
			d.Back += "?" + e
		}
	}
	aq := service.AlertQuery{Unattached: d.Unattached, Limit: 200}
	if dis, err := service.ParseDismissed(d.Dismissed); err != nil {
		msg, status = "Dismissed is false, true or any.", http.StatusBadRequest
	} else {
		aq.Dismissed = dis
	}
	switch d.Status {
	case "", "firing", "resolved":
		aq.Status = alert.Status(d.Status)
	default:
		msg, status = "Status is firing or resolved.", http.StatusBadRequest
	}
	if d.Match != "" {
		ms, err := alert.ParseMatchers(d.Match)
		if err != nil {
			msg, status = "Label matchers: "+err.Error(), http.StatusBadRequest
		}
		aq.Matchers = ms
	}
	var err error
	if d.Alerts, err = w.svc.Alerts(r.Context(), p, aq); err != nil {
		w.fail(rw, r, err)
		return
	}
	if d.Snoozes, err = w.svc.Snoozes(r.Context(), p); err != nil {
		w.fail(rw, r, err)
		return
	}
	if d.Waiting, err = w.svc.InboxWaiting(r.Context(), p); err != nil {
		w.fail(rw, r, err)
		return
	}
	d.Groups = groupAlerts(d.Alerts, d.Snoozes, w.svc.Now())
	if r.URL.Path == "/alerts" {
		for i := range d.Groups {
			g := &d.Groups[i]
			if m := commonMatchers(g.Alerts); m != "" {
				v := url.Values{}
				for k, vs := range q {
					if k != "snooze" && !slices.Contains(undoParams, k) {
						v[k] = vs
					}
				}
				v.Set("snooze", m)
				g.SnoozeURL = "/alerts?" + v.Encode() + "#add-snooze"
			}
		}
	}
	if d.Writer {
		page, err := w.svc.Incidents(r.Context(), p, service.IncidentQuery{Phases: []incident.Phase{incident.Active, incident.Mitigated, incident.Resolved}, Limit: 200})
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		d.Open = page.Incidents
	}
	pg := w.newPage(r, "Alerts", d)
	pg.Error = msg
	w.render(rw, r, status, "alerts", pg)
}

func alertIDs(r *http.Request) ([]int64, error) {
	var ids []int64
	for _, v := range r.PostForm["alert"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, problem.Invalidf("unknown alert %q", v)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, problem.Unprocessablef("select at least one alert")
	}
	return ids, nil
}

// inboxAction runs an inbox form and goes to the incident it touched, or
// shows the inbox again with the reason.
func (w *Web) inboxAction(rw http.ResponseWriter, r *http.Request, do func(p auth.Principal, ids []int64) (*incident.Incident, error)) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, errSignIn)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.Invalidf("the form is too large"))
		return
	}
	ids, err := alertIDs(r)
	var inc *incident.Incident
	if err == nil {
		inc, err = do(p, ids)
	}
	if err != nil {
		pr, ok := problem.As(err)
		if !ok || pr.Kind == problem.Internal || pr.Kind == problem.Unavailable || pr.Kind == problem.Forbidden || pr.Kind == problem.Unauthenticated {
			w.fail(rw, r, err)
			return
		}
		w.showAlerts(rw, r, problem.HTTPStatus(pr.Kind), pr.Message)
		return
	}
	http.Redirect(rw, r, fmt.Sprintf("/incidents/%d", inc.Number), http.StatusSeeOther)
}

// triageAction runs an inbox form that changes alerts or snoozes and
// returns to the view it came from, or shows the inbox with the reason.
// undo, when set, offers to take the action back ("unack", "restore").
func (w *Web) triageAction(rw http.ResponseWriter, r *http.Request, needAlerts bool, undo string, do func(p auth.Principal, ids []int64) error) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, errSignIn)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.Invalidf("the form is too large"))
		return
	}
	var ids []int64
	var err error
	if needAlerts {
		ids, err = alertIDs(r)
	}
	if err == nil {
		err = do(p, ids)
	}
	if err != nil {
		pr, ok := problem.As(err)
		if !ok || pr.Kind == problem.Internal || pr.Kind == problem.Unavailable || pr.Kind == problem.Forbidden || pr.Kind == problem.Unauthenticated {
			w.fail(rw, r, err)
			return
		}
		w.showAlerts(rw, r, problem.HTTPStatus(pr.Kind), pr.Message)
		return
	}
	to := backToInbox(r.PostForm.Get("back"))
	if undo != "" {
		to = withUndo(to, undo, ids)
	}
	http.Redirect(rw, r, to, http.StatusSeeOther)
}

// backToInbox is the inbox view a form came from, or the inbox: only a
// path under /alerts, so the form cannot send anyone elsewhere.
func backToInbox(back string) string {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != "/alerts" {
		return "/alerts"
	}
	q := u.Query()
	for _, k := range undoParams {
		q.Del(k)
	}
	if q := q.Encode(); q != "" {
		return "/alerts?" + q
	}
	return "/alerts"
}

func (w *Web) ackAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, true, "unack", func(p auth.Principal, ids []int64) error {
		_, err := w.svc.AckAlerts(r.Context(), p, ids)
		return err
	})
}

func (w *Web) dismissAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, true, "restore", func(p auth.Principal, ids []int64) error {
		_, err := w.svc.DismissAlerts(r.Context(), p, ids, r.PostForm.Get("reason"))
		return err
	})
}

// unackAction takes acknowledgements back (the inbox's button and the
// undo right after acknowledging).
func (w *Web) unackAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, true, "", func(p auth.Principal, ids []int64) error {
		_, err := w.svc.UnackAlerts(r.Context(), p, ids)
		return err
	})
}

// restoreAction takes dismissals back.
func (w *Web) restoreAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, true, "", func(p auth.Principal, ids []int64) error {
		_, err := w.svc.RestoreAlerts(r.Context(), p, ids)
		return err
	})
}

func (w *Web) snoozeAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, false, "", func(p auth.Principal, _ []int64) error {
		d, err := service.ParseSpan(r.PostForm.Get("duration"))
		if err != nil {
			return err
		}
		_, err = w.svc.CreateSnooze(r.Context(), p, service.NewSnooze{Matchers: r.PostForm.Get("matchers"), For: d, Reason: r.PostForm.Get("reason")})
		return err
	})
}

func (w *Web) unsnoozeAction(rw http.ResponseWriter, r *http.Request) {
	w.triageAction(rw, r, false, "", func(p auth.Principal, _ []int64) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return problem.New(problem.NotFound, "not_found", "no such snooze")
		}
		return w.svc.DeleteSnooze(r.Context(), p, id)
	})
}

func (w *Web) declareAction(rw http.ResponseWriter, r *http.Request) {
	w.inboxAction(rw, r, func(p auth.Principal, ids []int64) (*incident.Incident, error) {
		return w.svc.DeclareIncident(r.Context(), p, ids, incident.Draft{Title: r.PostForm.Get("title"),
			Severity: incident.Severity(r.PostForm.Get("severity"))})
	})
}

func (w *Web) attachAction(rw http.ResponseWriter, r *http.Request) {
	w.inboxAction(rw, r, func(p auth.Principal, ids []int64) (*incident.Incident, error) {
		n, err := strconv.ParseInt(r.PostForm.Get("incident"), 10, 64)
		if err != nil || n <= 0 {
			return nil, problem.Unprocessablef("choose the incident to attach to")
		}
		return w.svc.AttachAlerts(r.Context(), p, n, ids)
	})
}

type newIncidentData struct {
	Form      url.Values
	Sources   []incident.Source
	Members   []service.Member
	Templates []*incident.Template
}

// newIncidentData fills the form's choices: owners and checklist
// templates. The owner defaults to whoever opens it.
func (w *Web) newIncidentData(r *http.Request, p auth.Principal, f url.Values) (newIncidentData, error) {
	d := newIncidentData{Form: f, Sources: incident.Sources}
	if _, ok := f["owner"]; !ok {
		f.Set("owner", p.Name())
	}
	var err error
	if d.Members, err = w.svc.Members(r.Context(), p); err != nil {
		return d, err
	}
	d.Templates, err = w.svc.Templates(r.Context(), p)
	return d, err
}

func (w *Web) newIncidentPage(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if !p.Can(auth.WriteIncidents) {
		if p.IsAnonymous() {
			w.fail(rw, r, errSignIn)
		} else {
			w.fail(rw, r, problem.New(problem.Forbidden, "forbidden", "You may not open incidents."))
		}
		return
	}
	d, err := w.newIncidentData(r, p, url.Values{})
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	w.render(rw, r, http.StatusOK, "new_incident", w.newPage(r, "New incident", d))
}

func (w *Web) createIncident(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, errSignIn)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 256<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.New(problem.TooLarge, "too_large", "The form is too large."))
		return
	}
	f := r.PostForm
	// The form's owner field: a member, or "" for nobody; a form without
	// it (an older page) leaves the default, whoever opens it.
	var owners map[incident.Phase]string
	if v, ok := f["owner"]; ok {
		owners = map[incident.Phase]string{incident.Active: v[0]}
	}
	inc, err := w.svc.OpenIncident(r.Context(), p, incident.Draft{Title: f.Get("title"), Summary: f.Get("summary"),
		Severity: incident.Severity(f.Get("severity")), Services: splitList(f.Get("services")),
		DetectionSource: incident.Source(f.Get("detection_source")), Visibility: incident.Visibility(f.Get("visibility")),
		Owners: owners, Template: f.Get("template")})
	if err != nil {
		pr, ok := problem.As(err)
		if !ok || pr.Kind != problem.Unprocessable && pr.Kind != problem.Invalid {
			w.fail(rw, r, err)
			return
		}
		d, derr := w.newIncidentData(r, p, f)
		if derr != nil {
			w.fail(rw, r, derr)
			return
		}
		pg := w.newPage(r, "New incident", d)
		pg.Error = pr.Message
		w.render(rw, r, problem.HTTPStatus(pr.Kind), "new_incident", pg)
		return
	}
	http.Redirect(rw, r, fmt.Sprintf("/incidents/%d", inc.Number), http.StatusSeeOther)
}

// logRow is one line of the incident log.
type logRow struct {
	*incident.Incident
	ToMitigate, ToResolve, ToClose string
	Mitigation, Fix, Improvement   string
}

func durationSince(inc *incident.Incident, p incident.Phase) string {
	at, ok := inc.EnteredAt[p]
	if !ok {
		return ""
	}
	d := at.Sub(inc.CreatedAt)
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 72*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f d", d.Hours()/24)
}

type logData struct {
	Rows                        []logRow
	Total, Offset, Limit        int
	Phase, Service, Severity, Q string
	Source, From, To            string
	// State is the end-state filter: live, ended, merged, cancelled.
	State      string
	Prev, Next string
	Presets    []preset
	Sources    []incident.Source
	Exports    []preset
}

const logPageSize = 50

// logPage is the incident log: every incident the viewer may see, with what
// was done in each phase and how long it took.
func (w *Web) logPage(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	q := r.URL.Query()
	f, err := service.ParseIncidentQuery(q)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	// The page sets its own paging: the offset comes from its links, and
	// a mangled one shows the first page.
	offset, _ := strconv.Atoi(q.Get("offset"))
	f.Limit, f.Offset = logPageSize, max(offset, 0)
	page, err := w.svc.Incidents(r.Context(), p, f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d := logData{Total: page.Total, Offset: f.Offset, Limit: f.Limit, Phase: q.Get("phase"), Service: f.Service,
		Severity: string(f.Severity), Q: f.Text, Source: string(f.Source), From: q.Get("from"), To: q.Get("to"), State: f.State,
		Presets: presets(w.svc.Now(), "/incidents", "from", "to", q), Sources: incident.Sources}
	// Paging and export links keep every filter of the query, not only
	// those the form shows.
	filters := url.Values{}
	for _, k := range service.IncidentQueryParams {
		for _, v := range q[k] {
			if v != "" {
				filters.Add(k, v)
			}
		}
	}
	for _, f := range []struct {
		name   string
		format service.LogFormat
	}{{"Markdown", service.LogMarkdown}, {"CSV", service.LogCSV}, {"JSON", service.LogJSON}} {
		v := url.Values{"format": {string(f.format)}}
		for k, vs := range filters {
			v[k] = vs
		}
		d.Exports = append(d.Exports, preset{Name: f.name, URL: "/api/v1/log?" + v.Encode()})
	}
	pageLink := func(off int) string {
		v := url.Values{}
		for k, vs := range filters {
			v[k] = vs
		}
		v.Set("offset", strconv.Itoa(off))
		return "/incidents?" + v.Encode()
	}
	if f.Offset > 0 {
		d.Prev = pageLink(max(f.Offset-logPageSize, 0))
	}
	if f.Offset+logPageSize < page.Total {
		d.Next = pageLink(f.Offset + logPageSize)
	}
	for _, inc := range page.Incidents {
		d.Rows = append(d.Rows, logRow{Incident: inc, ToMitigate: durationSince(inc, incident.Mitigated),
			ToResolve: durationSince(inc, incident.Resolved), ToClose: durationSince(inc, incident.Closed),
			Mitigation: inc.Notes[incident.Mitigated], Fix: inc.Notes[incident.Resolved], Improvement: inc.Notes[incident.Closed]})
	}
	w.render(rw, r, http.StatusOK, "incidents", w.newPage(r, "Incident log", d))
}

// exportLog sends the log's old export addresses (/incidents.csv,
// /incidents.json) to the one export, GET /api/v1/log, with the same
// filters: it streams every matching incident, where these once stopped
// at a cap.
func (w *Web) exportLog(format service.LogFormat) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		v := url.Values{}
		for _, k := range service.IncidentQueryParams {
			for _, x := range r.URL.Query()[k] {
				v.Add(k, x)
			}
		}
		v.Set("format", string(format))
		http.Redirect(rw, r, "/api/v1/log?"+v.Encode(), http.StatusMovedPermanently)
	}
}
