package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/review"
)

// InsertReview stores a recorded review with its decisions and sets its
// ID; every decision's incident must exist.
func (t *Tx) InsertReview(ctx context.Context, r *review.Review) error {
	attendees, _ := json.Marshal(nonNil(r.Attendees))
	err := t.q.QueryRowContext(ctx, `INSERT INTO reviews (held_at, since, until, attendees, minutes, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		micros(r.HeldAt), micros(r.Since), micros(r.Until), string(attendees), r.Minutes, r.RecordedBy).Scan(&r.ID)
	if err != nil {
		return err
	}
	for _, d := range r.Decisions {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO review_decisions (review_id, incident_number, text) VALUES ($1, $2, $3)`,
			r.ID, d.Incident, d.Text); err != nil {
			return err
		}
	}
	return nil
}

const reviewColumns = `id, held_at, since, until, attendees, minutes, recorded_by`

func scanReview(row scanner) (*review.Review, error) {
	var (
		r                  review.Review
		held, since, until int64
		attendees          string
	)
	if err := noRows(row.Scan(&r.ID, &held, &since, &until, &attendees, &r.Minutes, &r.RecordedBy)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attendees), &r.Attendees); err != nil {
		return nil, fmt.Errorf("review %d attendees: %w", r.ID, err)
	}
	r.HeldAt, r.Since, r.Until = fromMicros(held), fromMicros(since), fromMicros(until)
	r.Decisions = []review.Decision{}
	return &r, nil
}

// Review reads one review with its decisions.
func (t *Tx) Review(ctx context.Context, id int64) (*review.Review, error) {
	r, err := scanReview(t.q.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	return r, t.decisions(ctx, r)
}

// LastReview reads the latest review held at or before until, with its
// decisions; ErrNotFound when there is none.
func (t *Tx) LastReview(ctx context.Context, until time.Time) (*review.Review, error) {
	r, err := scanReview(t.q.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM reviews WHERE held_at <= $1
		ORDER BY held_at DESC, id DESC LIMIT 1`, micros(until)))
	if err != nil {
		return nil, err
	}
	return r, t.decisions(ctx, r)
}

func (t *Tx) decisions(ctx context.Context, r *review.Review) error {
	rows, err := t.q.QueryContext(ctx, `SELECT d.incident_number, i.title, d.text FROM review_decisions d
		JOIN incidents i ON i.number = d.incident_number WHERE d.review_id = $1 ORDER BY d.id`, r.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d review.Decision
		if err := rows.Scan(&d.Incident, &d.Title, &d.Text); err != nil {
			return err
		}
		r.Decisions = append(r.Decisions, d)
	}
	return rows.Err()
}

// Reviews lists recorded reviews, newest first, without their decisions'
// texts (Decisions holds one entry per decision with its incident).
func (t *Tx) Reviews(ctx context.Context, limit int) ([]*review.Review, error) {
	list, err := collect(scanReview)(t.q.QueryContext(ctx, `SELECT `+reviewColumns+` FROM reviews ORDER BY held_at DESC, id DESC LIMIT $1`, limit))
	if err != nil || len(list) == 0 {
		return list, err
	}
	var a args
	byID := map[int64]*review.Review{}
	ph := make([]string, len(list))
	for i, r := range list {
		ph[i] = a.add(r.ID)
		byID[r.ID] = r
	}
	rows, err := t.q.QueryContext(ctx, `SELECT d.review_id, d.incident_number, i.title, d.text FROM review_decisions d
		JOIN incidents i ON i.number = d.incident_number WHERE d.review_id IN (`+strings.Join(ph, ", ")+`) ORDER BY d.id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var d review.Decision
		if err := rows.Scan(&id, &d.Incident, &d.Title, &d.Text); err != nil {
			return nil, err
		}
		byID[id].Decisions = append(byID[id].Decisions, d)
	}
	return list, rows.Err()
}

// ReviewSchedule reads the review day; ErrNotFound when none is set.
func (t *Tx) ReviewSchedule(ctx context.Context) (review.Schedule, error) {
	var wd, minute int
	var tz string
	err := t.q.QueryRowContext(ctx, `SELECT weekday, minute, timezone FROM review_schedule WHERE id = 1`).Scan(&wd, &minute, &tz)
	if err != nil {
		return review.Schedule{}, noRows(err)
	}
	return review.NewSchedule(time.Weekday(wd), minute, tz)
}

// SetReviewSchedule sets the review day, or removes it when s is nil.
func (t *Tx) SetReviewSchedule(ctx context.Context, s *review.Schedule, by string, at time.Time) error {
	if s == nil {
		_, err := t.q.ExecContext(ctx, `DELETE FROM review_schedule`)
		return err
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO review_schedule (id, weekday, minute, timezone, updated_by, updated_at)
		VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET weekday = excluded.weekday, minute = excluded.minute,
		timezone = excluded.timezone, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		int(s.Weekday), s.Minute, s.Timezone, by, micros(at))
	return err
}
