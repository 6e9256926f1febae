package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/service"
)

// period reads since and until: RFC 3339 times or dates (until a date
// includes that day).
func period(q map[string][]string) (since, until time.Time, err error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if since, err = service.ParseDay(get("since"), false); err != nil {
		return since, until, err
	}
	until, err = service.ParseDay(get("until"), true)
	return since, until, err
}

// agenda answers the weekly review's agenda as JSON, or as Markdown with
// format=md (what `quench review` prints).
func (a *API) agenda(w http.ResponseWriter, r *http.Request) {
	ag, md, err := func() (*review.Agenda, bool, error) {
		q, err := strictQuery(r, []string{"since", "until", "format"})
		if err != nil {
			return nil, false, err
		}
		md := false
		switch q.Get("format") {
		case "", "json":
		case "md":
			md = true
		default:
			return nil, false, problem.Invalidf("unknown format %q: use json or md", q.Get("format"))
		}
		since, until, err := period(q)
		if err != nil {
			return nil, false, err
		}
		ag, err := a.svc.Agenda(r.Context(), auth.From(r.Context()), since, until)
		return ag, md, err
	}()
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if !md {
		writeJSON(w, http.StatusOK, ag)
		return
	}
	var b bytes.Buffer
	ag.Markdown(&b, a.baseURL)
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

type reviewRequest struct {
	Since     *time.Time `json:"since"`
	Until     *time.Time `json:"until"`
	Attendees []string   `json:"attendees"`
	Minutes   string     `json:"minutes"`
	Decisions []struct {
		Incident int64  `json:"incident"`
		Text     string `json:"text"`
	} `json:"decisions"`
}

func (a *API) recordReview(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[reviewRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	in := service.ReviewInput{Attendees: req.Attendees, Minutes: req.Minutes}
	if req.Since != nil {
		in.Since = *req.Since
	}
	if req.Until != nil {
		in.Until = *req.Until
	}
	for _, d := range req.Decisions {
		in.Decisions = append(in.Decisions, service.DecisionInput{Incident: d.Incident, Text: d.Text})
	}
	rv, err := a.svc.RecordReview(r.Context(), p, in)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/reviews/%d", rv.ID))
	return http.StatusCreated, rv, nil
}

func (a *API) listReviews(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q, err := strictQuery(r, []string{"limit"})
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryInt(q, "limit", 50, 1, 500)
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Reviews(r.Context(), p, limit)
	if err != nil {
		return 0, nil, err
	}
	if list == nil {
		list = []*review.Review{}
	}
	return http.StatusOK, map[string]any{"reviews": list}, nil
}

func (a *API) getReview(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		// As for a review that does not exist, after the same access check.
		_, err = a.svc.Review(r.Context(), p, 0)
		return 0, nil, err
	}
	rv, err := a.svc.Review(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rv, nil
}

// ScheduleJSON is the review day.
type ScheduleJSON struct {
	// Set is false when no review day is set; the other fields are then
	// empty.
	Set      bool   `json:"set"`
	Weekday  string `json:"weekday,omitempty"`
	Time     string `json:"time,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	// NextMeeting is the next review; the agenda goes to the team's
	// channels at AgendaAt, an hour before.
	NextMeeting *time.Time `json:"next_meeting,omitempty"`
	AgendaAt    *time.Time `json:"agenda_at,omitempty"`
}

func (a *API) scheduleJSON(s review.Schedule, ok bool) ScheduleJSON {
	if !ok {
		return ScheduleJSON{}
	}
	next := s.Next(a.svc.Now()).UTC()
	at := next.Add(-review.AgendaLead)
	return ScheduleJSON{Set: true, Weekday: s.Weekday.String(), Time: s.Clock(), Timezone: s.Timezone, NextMeeting: &next, AgendaAt: &at}
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	s, ok, err := a.svc.ReviewSchedule(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.scheduleJSON(s, ok), nil
}

type scheduleRequest struct {
	Weekday  string `json:"weekday"`
	Time     string `json:"time"`
	Timezone string `json:"timezone"`
}

func (a *API) putSchedule(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[scheduleRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	s, err := review.ParseSchedule(req.Weekday, req.Time, req.Timezone)
	if err != nil {
		return 0, nil, err
	}
	if err := a.svc.SetReviewSchedule(r.Context(), p, &s); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.scheduleJSON(s, true), nil
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusNoContent, nil, a.svc.SetReviewSchedule(r.Context(), p, nil)
}

func (a *API) insights(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q, err := strictQuery(r, []string{"since", "until"})
	if err != nil {
		return 0, nil, err
	}
	since, until, err := period(q)
	if err != nil {
		return 0, nil, err
	}
	in, err := a.svc.Insights(r.Context(), p, since, until)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, in, nil
}

// logParams are the incident log's query parameters: the incident
// query's and the format.
var logParams = append(append([]string{}, service.IncidentQueryParams...), "format")

// ServeLog streams the incident log in format md, csv or json (default):
// every incident the viewer may see that the filters select, with no cap.
// Headers go out with the first bytes; an error after that cuts the
// connection, so a client never takes a truncated export for a complete
// one.
func (a *API) ServeLog(w http.ResponseWriter, r *http.Request) {
	f, q, err := func() (service.LogFormat, service.IncidentQuery, error) {
		v, err := strictQuery(r, logParams)
		if err != nil {
			return "", service.IncidentQuery{}, err
		}
		f, err := service.ParseLogFormat(v.Get("format"))
		if err != nil {
			return "", service.IncidentQuery{}, err
		}
		q, err := service.ParseIncidentQuery(v)
		return f, q, err
	}()
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	out := &lazyHeaders{w: w, header: func(h http.Header) {
		h.Set("Content-Type", f.ContentType())
		h.Set("Content-Disposition", `attachment; filename="incident-log.`+string(f)+`"`)
		h.Set("Cache-Control", "no-store")
	}}
	err = a.svc.ExportLog(r.Context(), auth.From(r.Context()), q, f, a.baseURL, out)
	if err == nil {
		return
	}
	if !out.wrote {
		WriteError(w, r, a.log, err)
		return
	}
	a.log.Warn("incident log export cut short", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

// lazyHeaders sets the answer's headers on the first write.
type lazyHeaders struct {
	w      http.ResponseWriter
	header func(http.Header)
	wrote  bool
}

func (l *lazyHeaders) Write(b []byte) (int, error) {
	if !l.wrote {
		l.wrote = true
		l.header(l.w.Header())
	}
	return l.w.Write(b)
}
