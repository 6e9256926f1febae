package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
	Form    url.Values
	Sources []incident.Source
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
	w.render(rw, r, http.StatusOK, "new_incident", w.newPage(r, "New incident", newIncidentData{Form: url.Values{}, Sources: incident.Sources}))
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
	inc, err := w.svc.OpenIncident(r.Context(), p, incident.Draft{Title: f.Get("title"), Summary: f.Get("summary"),
		Severity: incident.Severity(f.Get("severity")), Services: splitList(f.Get("services")),
		DetectionSource: incident.Source(f.Get("detection_source")), Visibility: incident.Visibility(f.Get("visibility"))})
	if err != nil {
		pr, ok := problem.As(err)
		if !ok || pr.Kind != problem.Unprocessable && pr.Kind != problem.Invalid {
			w.fail(rw, r, err)
			return
		}
		pg := w.newPage(r, "New incident", newIncidentData{Form: f, Sources: incident.Sources})
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
	Query                       string // the filters, for export and paging links
	Prev, Next                  string
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
		Severity: string(f.Severity), Q: f.Text}
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
	d.Query = filters.Encode()
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

// maxExport bounds one export; the log is meant for people and reviews.
const maxExport = 10000

// exportList is the log's incidents in the one JSON shape of an incident
// (the API's): the ticket and its phase notes, never updates.
func (w *Web) exportList(r *http.Request) ([]service.IncidentJSON, error) {
	f, err := service.ParseIncidentQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	f.Limit = maxExport
	page, err := w.svc.Incidents(r.Context(), auth.From(r.Context()), f)
	if err != nil {
		return nil, err
	}
	out := make([]service.IncidentJSON, len(page.Incidents))
	for i, inc := range page.Incidents {
		out[i] = service.NewIncidentJSON(inc, w.baseURL)
	}
	return out, nil
}

func (w *Web) exportJSON(rw http.ResponseWriter, r *http.Request) {
	list, err := w.exportList(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="incident-log.json"`)
	rw.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"incidents": list})
}

// csvCell keeps spreadsheet programs from running a cell as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (w *Web) exportCSV(rw http.ResponseWriter, r *http.Request) {
	list, err := w.exportList(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="incident-log.csv"`)
	rw.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(rw)
	cw.Write([]string{"number", "title", "severity", "services", "detection_source", "visibility", "phase", "opened_at",
		"mitigated_at", "resolved_at", "closed_at", "mitigation", "fix", "root_cause_improvement", "detection_improvement"})
	for _, e := range list {
		entered := func(p incident.Phase) string {
			if t, ok := e.PhaseEnteredAt[string(p)]; ok {
				return t.Format(time.RFC3339)
			}
			return ""
		}
		note := func(p incident.Phase) string { return e.PhaseNotes[string(p)] }
		row := []string{strconv.FormatInt(e.Number, 10), e.Title, string(e.Severity), strings.Join(e.Services, " "), string(e.DetectionSource),
			string(e.Visibility), string(e.Phase), e.CreatedAt.Format(time.RFC3339),
			entered(incident.Mitigated), entered(incident.Resolved), entered(incident.Closed),
			note(incident.Mitigated), note(incident.Resolved), note(incident.Closed), e.DetectionImprovement}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		cw.Write(row)
	}
	cw.Flush()
}
