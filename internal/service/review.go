package service

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/review"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// The weekly review is the team's: to anyone else it does not exist.
var errNoReview = problem.New(problem.NotFound, "not_found", "not found")

// teamOnly lets the team do a; anonymous visitors get a 404 (the review
// and its records are not theirs to know of), a signed-in principal
// without the right a 403.
func teamOnly(p auth.Principal, a auth.Action, what string) error {
	if p.IsAnonymous() {
		return errNoReview
	}
	return require(p, a, what)
}

// Limits of a recorded review.
const (
	maxAttendees   = 50
	maxDecisions   = 200
	maxDecision    = 4 << 10
	maxMinutes     = 64 << 10
	maxAgendaRange = 366 * 24 * time.Hour
	noiseOnAgenda  = 20
)

// agendaPeriod settles an agenda's period: until defaults to now, since
// to the end of the period of the last review held before until, else
// DefaultPeriod earlier.
func (s *Service) agendaPeriod(ctx context.Context, tx *store.Tx, since, until time.Time) (time.Time, time.Time, *review.Review, error) {
	if until.IsZero() {
		until = s.Now()
	}
	last, err := tx.LastReview(ctx, until)
	if errors.Is(err, store.ErrNotFound) {
		last, err = nil, nil
	}
	if err != nil {
		return since, until, nil, err
	}
	if since.IsZero() {
		// Where the last review's agenda ended, so nothing falls between
		// two agendas.
		since = until.Add(-review.DefaultPeriod)
		if last != nil {
			since = last.Until
		}
	}
	return since, until, last, checkPeriod(since, until, maxAgendaRange, "an agenda covers at most a year")
}

// checkPeriod refuses a backward or too long period. An empty one is
// fine: right after a review, nothing has happened since.
func checkPeriod(since, until time.Time, longest time.Duration, tooLong string) error {
	if until.Before(since) {
		return problem.Invalidf("since must not be after until")
	}
	if until.Sub(since) > longest {
		return problem.Invalidf("%s", tooLong)
	}
	return nil
}

// Agenda is the weekly review's agenda for [since, until); zero times
// take the defaults (since the last review, until now). Team only.
func (s *Service) Agenda(ctx context.Context, p auth.Principal, since, until time.Time) (*review.Agenda, error) {
	if err := teamOnly(p, auth.ReadAll, "see the weekly review"); err != nil {
		return nil, err
	}
	var a *review.Agenda
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		a, err = s.agenda(ctx, tx, since, until)
		return err
	})
	return a, err
}

func (s *Service) agenda(ctx context.Context, tx *store.Tx, since, until time.Time) (*review.Agenda, error) {
	since, until, last, err := s.agendaPeriod(ctx, tx, since, until)
	if err != nil {
		return nil, err
	}
	a := &review.Agenda{Since: since, Until: until, LastReview: last, Opened: []review.Item{}, Stuck: []review.Stuck{},
		Unowned: []review.Item{}, Checklist: []review.OwnerItems{}, Detection: []review.DetectionCheck{}, Ended: []review.Ended{}}
	detection := map[int64]bool{}
	check := func(inc *incident.Incident) {
		// A duplicate or a false alarm needs no detection improvement.
		if inc.DetectionSource.NeedsDetectionImprovement() && !detection[inc.Number] && !inc.Ended() {
			detection[inc.Number] = true
			a.Detection = append(a.Detection, review.DetectionCheck{Incident: review.NewItem(inc), Source: inc.DetectionSource,
				Improvement: inc.DetectionImprovement})
		}
	}
	err = tx.EachIncident(ctx, store.IncidentFilter{OpenedFrom: since, OpenedBefore: until, Sort: "number"}, func(inc *incident.Incident) error {
		a.Opened = append(a.Opened, review.NewItem(inc))
		check(inc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	open := map[int64]*incident.Incident{}
	now := s.Now()
	err = tx.EachIncident(ctx, store.IncidentFilter{Phases: incident.OwnedPhases, Sort: "number"}, func(inc *incident.Incident) error {
		open[inc.Number] = inc
		if st, ok := s.stuck(inc, now); ok {
			a.Stuck = append(a.Stuck, st)
		}
		if inc.Owners[inc.Phase] == "" {
			a.Unowned = append(a.Unowned, review.NewItem(inc))
		}
		check(inc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.EachIncident(ctx, store.IncidentFilter{EndedFrom: since, EndedBefore: until, Sort: "ended"}, func(inc *incident.Incident) error {
		a.Ended = append(a.Ended, review.NewEnded(inc))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(a.Detection, func(x, y review.DetectionCheck) int { return int(x.Incident.Number - y.Incident.Number) })
	if a.PhaseChanges, err = tx.PhaseChanges(ctx, since, until); err != nil {
		return nil, err
	}
	items, err := tx.OpenChecklist(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		inc, ok := open[it.Incident]
		if !ok {
			continue // closed since the items were read: not in this snapshot's open set
		}
		if n := len(a.Checklist); n == 0 || a.Checklist[n-1].Owner != it.Owner {
			a.Checklist = append(a.Checklist, review.OwnerItems{Owner: it.Owner})
		}
		o := &a.Checklist[len(a.Checklist)-1]
		o.Items = append(o.Items, review.ChecklistEntry{Incident: review.NewItem(inc), ID: it.ID, Text: it.Text, Phase: it.Phase})
	}
	if a.Noise, err = tx.AlertNames(ctx, since, until, true, noiseOnAgenda); err != nil {
		return nil, err
	}
	sched, err := tx.ReviewSchedule(ctx)
	switch {
	case err == nil:
		next := sched.Next(now)
		a.NextMeeting = &next
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return a, nil
}

// stuck reports whether inc has been in its phase at least the
// incident.stuck threshold at now: the nudges' rule, shared here.
func (s *Service) stuck(inc *incident.Incident, now time.Time) (review.Stuck, bool) {
	limit, ok := s.nudges.Stuck[inc.Phase]
	entered := inc.EnteredAt[inc.Phase]
	if !ok || entered.IsZero() || now.Sub(entered) < limit {
		return review.Stuck{}, false
	}
	return review.Stuck{Incident: review.NewItem(inc), Since: entered, For: review.Seconds(now.Sub(entered).Seconds()),
		Threshold: review.Seconds(limit.Seconds())}, true
}

// ReviewInput records a review.
type ReviewInput struct {
	// Since and Until are the agenda's period; zero takes the agenda's
	// defaults.
	Since, Until time.Time
	Attendees    []string
	Minutes      string
	Decisions    []DecisionInput
}

// DecisionInput is what the review decided about one incident.
type DecisionInput struct {
	Incident int64
	Text     string
}

// RecordReview saves a review held now: attendees, minutes and one
// decision per incident, each appended to that incident's timeline as an
// internal "reviewed" event. The next agenda starts here and shows the
// decisions under "last time we decided".
func (s *Service) RecordReview(ctx context.Context, p auth.Principal, in ReviewInput) (*review.Review, error) {
	if err := teamOnly(p, auth.WriteIncidents, "record reviews"); err != nil {
		return nil, err
	}
	r := &review.Review{HeldAt: s.Now(), Attendees: []string{}, Minutes: text.Clean(in.Minutes, 0), RecordedBy: p.Name()}
	if len(in.Minutes) > maxMinutes {
		return nil, problem.Unprocessablef("the minutes are longer than %d KiB", maxMinutes>>10)
	}
	for _, a := range in.Attendees {
		if a = text.Line(a, 100); a != "" && !slices.Contains(r.Attendees, a) {
			r.Attendees = append(r.Attendees, a)
		}
	}
	if len(r.Attendees) > maxAttendees {
		return nil, problem.Unprocessablef("at most %d attendees", maxAttendees)
	}
	if len(in.Decisions) > maxDecisions {
		return nil, problem.Unprocessablef("at most %d decisions", maxDecisions)
	}
	seen := map[int64]bool{}
	for _, d := range in.Decisions {
		t := strings.TrimSpace(text.Clean(d.Text, 0))
		switch {
		case d.Incident <= 0:
			return nil, problem.Unprocessablef("a decision needs its incident's number")
		case t == "":
			return nil, problem.Unprocessablef("the decision about #%d is empty", d.Incident)
		case len(t) > maxDecision:
			return nil, problem.Unprocessablef("the decision about #%d is longer than %d KiB", d.Incident, maxDecision>>10)
		case seen[d.Incident]:
			return nil, problem.Unprocessablef("two decisions about #%d: one per incident", d.Incident)
		}
		seen[d.Incident] = true
		r.Decisions = append(r.Decisions, review.Decision{Incident: d.Incident, Text: t})
	}
	if strings.TrimSpace(r.Minutes) == "" && len(r.Decisions) == 0 {
		return nil, problem.Unprocessablef("a review needs minutes or a decision")
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		if r.Since, r.Until, _, err = s.agendaPeriod(ctx, tx, in.Since, in.Until); err != nil {
			return err
		}
		incs := make([]*incident.Incident, len(r.Decisions))
		for i, d := range r.Decisions {
			inc, err := tx.IncidentForUpdate(ctx, d.Incident)
			if errors.Is(err, store.ErrNotFound) {
				return problem.Unprocessablef("there is no incident #%d", d.Incident)
			}
			if err != nil {
				return err
			}
			incs[i], r.Decisions[i].Title = inc, inc.Title
		}
		if err := tx.InsertReview(ctx, r); err != nil {
			return err
		}
		for i, d := range r.Decisions {
			ev := &incident.Event{Incident: d.Incident, At: r.HeldAt, Actor: p.Name(), Kind: incident.EventReviewed, Internal: true,
				Data: map[string]any{"review": r.ID, "decision": d.Text}}
			if err := s.record(ctx, tx, incs[i], ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Decisions == nil {
		r.Decisions = []review.Decision{}
	}
	for _, d := range r.Decisions {
		s.publish(Change{Incident: d.Incident, Kind: incident.EventReviewed})
	}
	return r, nil
}

// Reviews lists recorded reviews, newest first. Team only.
func (s *Service) Reviews(ctx context.Context, p auth.Principal, limit int) ([]*review.Review, error) {
	if err := teamOnly(p, auth.ReadAll, "see the weekly review"); err != nil {
		return nil, err
	}
	var out []*review.Review
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Reviews(ctx, min(max(limit, 1), 500)); return err })
	return out, err
}

// Review reads one recorded review. Team only.
func (s *Service) Review(ctx context.Context, p auth.Principal, id int64) (*review.Review, error) {
	if err := teamOnly(p, auth.ReadAll, "see the weekly review"); err != nil {
		return nil, err
	}
	var r *review.Review
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) {
		r, err = tx.Review(ctx, id)
		return missing(err, "review %d not found", id)
	})
	return r, err
}

// ReviewSchedule returns the review day; ok is false when none is set.
// Team only.
func (s *Service) ReviewSchedule(ctx context.Context, p auth.Principal) (sched review.Schedule, ok bool, err error) {
	if err := teamOnly(p, auth.ReadAll, "see the weekly review"); err != nil {
		return sched, false, err
	}
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		sched, err = tx.ReviewSchedule(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		ok = err == nil
		return err
	})
	return sched, ok, err
}

// SetReviewSchedule sets the review day, or removes it (nil): the agenda
// goes to the team's channels AgendaLead before each meeting. Admins only.
func (s *Service) SetReviewSchedule(ctx context.Context, p auth.Principal, sched *review.Schedule) error {
	if err := teamOnly(p, auth.Administer, "set the review day"); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetReviewSchedule(ctx, sched, p.Name(), s.Now()); err != nil {
			return err
		}
		detail := map[string]any{"review_day": "none"}
		if sched != nil {
			detail["review_day"] = sched.Weekday.String() + " " + sched.Clock() + " " + sched.Timezone
		}
		return s.auditBy(ctx, tx, p, "review_day_set", "review", detail)
	})
}

// SendDueAgenda queues the agenda for every team channel that wants
// review.agenda, once per meeting, when the meeting is at most
// review.AgendaLead away. A background job calls it every minute on every
// replica; the nudges table remembers which meeting's agenda went out.
func (s *Service) SendDueAgenda(ctx context.Context) (sent bool, err error) {
	now := s.Now()
	var meeting time.Time
	due := false
	// Most minutes nothing is due: find out without a write transaction.
	err = s.store.ReadOne(ctx, func(tx *store.Tx) error {
		sched, err := tx.ReviewSchedule(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		meeting, due = sched.AgendaDue(now)
		return err
	})
	if err != nil || !due {
		return false, err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		channels, err := tx.Channels(ctx)
		if err != nil {
			return err
		}
		var wanting []*notify.Channel
		for _, c := range channels {
			if c.Wants(notify.ReviewAgenda) {
				wanting = append(wanting, c)
			}
		}
		if first, err := tx.RecordNudge(ctx, 0, string(notify.ReviewAgenda), "", meeting, now); err != nil || !first {
			return err
		}
		if len(wanting) == 0 {
			return nil
		}
		a, err := s.agenda(ctx, tx, time.Time{}, now)
		if err != nil {
			return err
		}
		a.NextMeeting = &meeting
		var body bytes.Buffer
		a.Markdown(&body, s.baseURL)
		for _, c := range wanting {
			key := newMessageID()
			msg := notify.Message{ID: key, Event: notify.ReviewAgenda, At: now,
				Incident: notify.Incident{Title: "Weekly review", URL: s.baseURL + "/review", CreatedAt: now},
				Headline: "Agenda of the weekly review, " + meeting.Format("Mon 2 Jan 15:04 MST"), Body: body.String()}
			d := &notify.Delivery{Key: key, ChannelID: c.ID, Channel: c.Name, Event: notify.ReviewAgenda, Message: msg, CreatedAt: now}
			if _, err := tx.EnqueueDelivery(ctx, d, 0); err != nil {
				return err
			}
		}
		sent = true
		return nil
	})
	if sent && err == nil {
		s.wakeOutbox()
	}
	return sent, err
}
