package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/service"
)

// reviewData is the review page: the agenda, the form that records the
// meeting, the review day and the reviews held so far.
type reviewData struct {
	Agenda *review.Agenda
	// Listed are the agenda's incidents, each once, for a decision.
	Listed      []review.Item
	Reviews     []*review.Review
	Schedule    review.Schedule
	ScheduleSet bool
	AgendaAt    time.Time
	Writer      bool
	Admin       bool
	Form        url.Values
	Weekdays    []time.Weekday
}

// Field is what was typed into a field of the form, for re-rendering.
func (d *reviewData) Field(name string) string { return d.Form.Get(name) }

// Decision is what was typed for incident n.
func (d *reviewData) Decision(n int64) string { return d.Form.Get(fmt.Sprintf("decision-%d", n)) }

// listed is every incident the agenda names, in the order it names them.
func listed(a *review.Agenda) []review.Item {
	var out []review.Item
	seen := map[int64]bool{}
	add := func(it review.Item) {
		if !seen[it.Number] {
			seen[it.Number] = true
			out = append(out, it)
		}
	}
	if a.LastReview != nil {
		for _, d := range a.LastReview.Decisions {
			add(review.Item{Number: d.Incident, Title: d.Title})
		}
	}
	for _, it := range a.Opened {
		add(it)
	}
	for _, c := range a.PhaseChanges {
		add(c.Incident)
	}
	for _, s := range a.Stuck {
		add(s.Incident)
	}
	for _, it := range a.Unowned {
		add(it)
	}
	for _, o := range a.Checklist {
		for _, e := range o.Items {
			add(e.Incident)
		}
	}
	for _, d := range a.Detection {
		add(d.Incident)
	}
	return out
}

// reviewPage is the weekly review: team only, so anonymous visitors get a
// 404 (from the service), as for a page that does not exist.
func (w *Web) reviewPage(rw http.ResponseWriter, r *http.Request) {
	w.showReview(rw, r, http.StatusOK, "", url.Values{})
}

func (w *Web) showReview(rw http.ResponseWriter, r *http.Request, status int, msg string, form url.Values) {
	p := auth.From(r.Context())
	q := r.URL.Query()
	since, err := service.ParseDay(q.Get("since"), false)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	until, err := service.ParseDay(q.Get("until"), true)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	if s, err := service.ParseDay(form.Get("since"), false); err == nil && !s.IsZero() {
		since = s // a form sent back shows the agenda it was written for
	}
	if u, err := service.ParseDay(form.Get("until"), false); err == nil && !u.IsZero() {
		until = u
	}
	d := &reviewData{Writer: p.Can(auth.WriteIncidents), Admin: p.Can(auth.Administer), Form: form,
		Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}}
	if d.Agenda, err = w.svc.Agenda(r.Context(), p, since, until); err != nil {
		w.fail(rw, r, err)
		return
	}
	d.Listed = listed(d.Agenda)
	if d.Reviews, err = w.svc.Reviews(r.Context(), p, 20); err != nil {
		w.fail(rw, r, err)
		return
	}
	if d.Schedule, d.ScheduleSet, err = w.svc.ReviewSchedule(r.Context(), p); err != nil {
		w.fail(rw, r, err)
		return
	}
	if d.ScheduleSet {
		d.AgendaAt = d.Schedule.Next(w.svc.Now()).Add(-review.AgendaLead)
	}
	pg := w.newPage(r, "Weekly review", d)
	pg.Error = msg
	if q.Get("schedule") == "saved" {
		pg.Notice = "The review day is saved."
	}
	w.render(rw, r, status, "review", pg)
}

// recordReviewAction records the meeting: attendees, minutes, and a
// decision for each incident whose box was filled in.
func (w *Web) recordReviewAction(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	r.Body = http.MaxBytesReader(rw, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.New(problem.TooLarge, "too_large", "The form is too large."))
		return
	}
	f := r.PostForm
	in := service.ReviewInput{Attendees: splitList(f.Get("attendees")), Minutes: f.Get("minutes")}
	in.Since, _ = service.ParseDay(f.Get("since"), false)
	in.Until, _ = service.ParseDay(f.Get("until"), false)
	for k, vs := range f {
		n, ok := strings.CutPrefix(k, "decision-")
		if !ok || strings.TrimSpace(strings.Join(vs, "")) == "" {
			continue
		}
		num, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			continue
		}
		in.Decisions = append(in.Decisions, service.DecisionInput{Incident: num, Text: vs[0]})
	}
	rv, err := w.svc.RecordReview(r.Context(), p, in)
	if err != nil {
		if pr, ok := problem.As(err); ok && (pr.Kind == problem.Unprocessable || pr.Kind == problem.Invalid) {
			w.showReview(rw, r, problem.HTTPStatus(pr.Kind), pr.Message, f)
			return
		}
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, fmt.Sprintf("/reviews/%d", rv.ID), http.StatusSeeOther)
}

// scheduleAction sets or removes the review day (admins).
func (w *Web) scheduleAction(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.Invalidf("the form is too large"))
		return
	}
	f := r.PostForm
	var err error
	if f.Get("do") == "remove" {
		err = w.svc.SetReviewSchedule(r.Context(), p, nil)
	} else {
		var s review.Schedule
		if s, err = review.ParseSchedule(f.Get("weekday"), f.Get("time"), f.Get("timezone")); err == nil {
			err = w.svc.SetReviewSchedule(r.Context(), p, &s)
		}
	}
	if err != nil {
		if pr, ok := problem.As(err); ok && pr.Kind == problem.Unprocessable && p.Can(auth.Administer) {
			w.showReview(rw, r, problem.HTTPStatus(pr.Kind), pr.Message, url.Values{})
			return
		}
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/review?schedule=saved", http.StatusSeeOther)
}

type pastReviewData struct {
	Review  *review.Review
	Minutes template.HTML
}

// pastReviewPage shows one recorded review.
func (w *Web) pastReviewPage(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		id = 0 // answered like a review that does not exist, after the access check
	}
	rv, err := w.svc.Review(r.Context(), p, id)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d := pastReviewData{Review: rv, Minutes: w.markdownFor(r, p).Render(rv.Minutes)}
	w.render(rw, r, http.StatusOK, "review_held", w.newPage(r, fmt.Sprintf("Review #%d", rv.ID), d))
}
