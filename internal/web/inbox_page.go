package web

import (
	"encoding/csv"
	"encoding/json"
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
	"github.com/quenchhq/quench/internal/store"
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
	aq := service.AlertQuery{AlertFilter: store.AlertFilter{Unattached: d.Unattached, Limit: 200}}
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
		page, err := w.svc.Incidents(r.Context(), p, store.IncidentFilter{Phases: []incident.Phase{incident.Active, incident.Mitigated, incident.Resolved}, Limit: 200})
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

func logFilter(q url.Values) (store.IncidentFilter, error) {
	f := store.IncidentFilter{Service: q.Get("service"), Query: q.Get("q")}
	if ph := q.Get("phase"); ph != "" {
		p, err := incident.ParsePhase(ph)
		if err != nil {
			return f, err
		}
		f.Phases = []incident.Phase{p}
	}
	if s := q.Get("severity"); s != "" {
		if !slices.Contains(incident.Severities, incident.Severity(s)) {
			return f, problem.Invalidf("unknown severity %q", s)
		}
		f.Severity = incident.Severity(s)
	}
	return f, nil
}

// logPage is the incident log: every incident the viewer may see, with what
// was done in each phase and how long it took.
func (w *Web) logPage(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	q := r.URL.Query()
	f, err := logFilter(q)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	f.Limit, f.Offset = logPageSize, max(offset, 0)
	page, err := w.svc.Incidents(r.Context(), p, f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d := logData{Total: page.Total, Offset: f.Offset, Limit: f.Limit, Phase: q.Get("phase"), Service: f.Service,
		Severity: string(f.Severity), Q: f.Query}
	filters := url.Values{}
	for _, k := range []string{"phase", "service", "severity", "q"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
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

func (w *Web) exportList(r *http.Request) ([]*incident.Incident, error) {
	f, err := logFilter(r.URL.Query())
	if err != nil {
		return nil, err
	}
	f.Limit = maxExport
	page, err := w.svc.Incidents(r.Context(), auth.From(r.Context()), f)
	if err != nil {
		return nil, err
	}
	return page.Incidents, nil
}

// exportRecord is one incident of an export: the ticket and its phase
// notes, never updates.
type exportRecord struct {
	Number               int64             `json:"number"`
	Title                string            `json:"title"`
	Severity             incident.Severity `json:"severity"`
	Services             []string          `json:"services"`
	DetectionSource      incident.Source   `json:"detection_source"`
	Visibility           string            `json:"visibility"`
	Phase                incident.Phase    `json:"phase"`
	OpenedAt             time.Time         `json:"opened_at"`
	MitigatedAt          *time.Time        `json:"mitigated_at,omitempty"`
	ResolvedAt           *time.Time        `json:"resolved_at,omitempty"`
	ClosedAt             *time.Time        `json:"closed_at,omitempty"`
	Mitigation           string            `json:"mitigation"`
	Fix                  string            `json:"fix"`
	Improvement          string            `json:"root_cause_improvement"`
	DetectionImprovement string            `json:"detection_improvement"`
}

func record(inc *incident.Incident) exportRecord {
	at := func(p incident.Phase) *time.Time {
		if t, ok := inc.EnteredAt[p]; ok {
			u := t.UTC()
			return &u
		}
		return nil
	}
	return exportRecord{Number: inc.Number, Title: inc.Title, Severity: inc.Severity, Services: inc.Services,
		DetectionSource: inc.DetectionSource, Visibility: string(inc.Visibility), Phase: inc.Phase, OpenedAt: inc.CreatedAt.UTC(),
		MitigatedAt: at(incident.Mitigated), ResolvedAt: at(incident.Resolved), ClosedAt: at(incident.Closed),
		Mitigation: inc.Notes[incident.Mitigated], Fix: inc.Notes[incident.Resolved], Improvement: inc.Notes[incident.Closed],
		DetectionImprovement: inc.DetectionImprovement}
}

func (w *Web) exportJSON(rw http.ResponseWriter, r *http.Request) {
	list, err := w.exportList(r)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	out := make([]exportRecord, len(list))
	for i, inc := range list {
		out[i] = record(inc)
	}
	rw.Header().Set("Content-Type", "application/json; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="incident-log.json"`)
	rw.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"incidents": out})
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
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	for _, inc := range list {
		e := record(inc)
		row := []string{strconv.FormatInt(e.Number, 10), e.Title, string(e.Severity), strings.Join(e.Services, " "), string(e.DetectionSource),
			e.Visibility, string(e.Phase), e.OpenedAt.Format(time.RFC3339), ts(e.MitigatedAt), ts(e.ResolvedAt), ts(e.ClosedAt),
			e.Mitigation, e.Fix, e.Improvement, e.DetectionImprovement}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		cw.Write(row)
	}
	cw.Flush()
}
