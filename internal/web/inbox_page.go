package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

type alertsData struct {
	Alerts     []*alert.Record
	Open       []*incident.Incident
	Status     string
	Unattached bool
	Match      string
	Writer     bool
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
	d := alertsData{Status: q.Get("status"), Unattached: q.Get("unattached") != "", Match: q.Get("match"), Writer: p.Can(auth.WriteIncidents)}
	aq := service.AlertQuery{Unattached: d.Unattached, Limit: 200}
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
	Prev, Next                  string
	Presets                     []preset
	Sources                     []incident.Source
	Exports                     []preset
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
		Severity: string(f.Severity), Q: f.Text, Source: string(f.Source), From: q.Get("from"), To: q.Get("to"),
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
