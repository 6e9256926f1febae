package store

import (
	"context"
	"fmt"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

const snoozeColumns = `id, matchers, reason, created_by, created_at, ends_at`

func (t *Tx) scanSnooze(row scanner) (*alert.Snooze, error) {
	var s alert.Snooze
	var matchers string
	var created, ends int64
	if err := noRows(row.Scan(&s.ID, &matchers, &s.Reason, &s.CreatedBy, &created, &ends)); err != nil {
		return nil, err
	}
	ms, err := t.matchers.parse(matchers)
	if err != nil {
		return nil, fmt.Errorf("snooze %d matchers: %w", s.ID, err)
	}
	s.Matchers, s.CreatedAt, s.EndsAt = ms, fromMicros(created), fromMicros(ends)
	return &s, nil
}

// InsertSnooze stores a snooze and sets its ID.
func (t *Tx) InsertSnooze(ctx context.Context, s *alert.Snooze) error {
	cols := `matchers, reason, created_by, created_at, ends_at`
	a := args{s.MatchersString(), s.Reason, s.CreatedBy, micros(s.CreatedAt), micros(s.EndsAt)}
	id, err := t.insertID(ctx, "snoozes", &cols, &a)
	if err != nil {
		return err
	}
	t.snoozes = nil
	t.touch(tableSnoozes)
	return t.q.QueryRowContext(ctx, `INSERT INTO snoozes (`+cols+`) VALUES ($1, $2, $3, $4, $5`+id+`) RETURNING id`, a...).Scan(&s.ID)
}

// Snooze reads one snooze.
func (t *Tx) Snooze(ctx context.Context, id int64) (*alert.Snooze, error) {
	return t.scanSnooze(t.q.QueryRowContext(ctx, `SELECT `+snoozeColumns+` FROM snoozes WHERE id = $1`, id))
}

// DeleteSnooze removes a snooze.
func (t *Tx) DeleteSnooze(ctx context.Context, id int64) error {
	t.snoozes = nil
	t.touch(tableSnoozes)
	res, err := t.q.ExecContext(ctx, `DELETE FROM snoozes WHERE id = $1`, id)
	return affected(res, err)
}

// Snoozes lists the snoozes that end after now, soonest ending first.
// Callers must not change what is returned: within one SQLite batch of
// writes it is read once (InsertSnooze and DeleteSnooze clear it), and
// entries that ended since are the caller's to skip (Snooze.Active).
func (t *Tx) Snoozes(ctx context.Context, now time.Time) ([]*alert.Snooze, error) {
	if t.snoozes != nil && !now.Before(t.snoozesAt) {
		return *t.snoozes, nil
	}
	read := func(now time.Time) ([]*alert.Snooze, error) {
		return collect(t.scanSnooze)(t.q.QueryContext(ctx, `SELECT `+snoozeColumns+` FROM snoozes WHERE ends_at > $1 ORDER BY ends_at, id`, micros(now)))
	}
	if t.cached(tableSnoozes) {
		r, err := t.caches.snoozes.get(func() (snoozesRead, error) {
			list, err := read(now)
			return snoozesRead{at: now, list: list}, err
		})
		if err != nil {
			return nil, err
		}
		if !now.Before(r.at) {
			return r.list, nil
		}
		// Read for a later time than now (a clock set back): read again.
	}
	list, err := read(now)
	if err == nil {
		t.snoozes, t.snoozesAt = &list, now
	}
	return list, err
}

// DeleteSnoozesBefore forgets snoozes that ended before cutoff.
func (t *Tx) DeleteSnoozesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	t.snoozes = nil
	t.touch(tableSnoozes)
	res, err := t.q.ExecContext(ctx, `DELETE FROM snoozes WHERE ends_at < $1`, micros(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
