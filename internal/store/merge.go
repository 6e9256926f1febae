package store

import (
	"context"
)

// Moved counts what a merge moved from the duplicate to the target.
type Moved struct {
	Alerts, Links, ChecklistItems, Attachments int64
}

// MoveChildren moves a merged incident's alerts, links, checklist items
// and attachments to the incident it was merged into, each row once, in
// the caller's transaction: a failure at any step rolls back all of them.
// Updates stay on the duplicate, where they were written, and so do the
// attachments of those updates (they follow the update's visibility);
// the timeline stays too, being append-only. The counts of attached and
// firing alerts follow the alerts.
func (t *Tx) MoveChildren(ctx context.Context, from, to int64) (Moved, error) {
	var m Moved
	var firing int64
	err := t.q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(CASE WHEN status = 'firing' THEN 1 ELSE 0 END), 0)
		FROM alerts WHERE incident_number = $1`, from).Scan(&m.Alerts, &firing)
	if err != nil {
		return m, err
	}
	steps := []struct {
		n     *int64
		query string
	}{
		{nil, `UPDATE alerts SET incident_number = $2 WHERE incident_number = $1`},
		{&m.Links, `UPDATE links SET incident_number = $2 WHERE incident_number = $1`},
		{&m.ChecklistItems, `UPDATE checklist_items SET incident_number = $2 WHERE incident_number = $1`},
		{&m.Attachments, `UPDATE attachments SET incident_number = $2 WHERE incident_number = $1 AND update_id IS NULL`},
	}
	for _, s := range steps {
		res, err := t.q.ExecContext(ctx, s.query, from, to)
		if err != nil {
			return m, err
		}
		if s.n != nil {
			if *s.n, err = res.RowsAffected(); err != nil {
				return m, err
			}
		}
	}
	if m.Alerts > 0 {
		if _, err := t.q.ExecContext(ctx, `UPDATE incidents SET alerts_attached = alerts_attached - $2, alerts_firing = alerts_firing - $3
			WHERE number = $1`, from, m.Alerts, firing); err != nil {
			return m, err
		}
		if _, err := t.AddAlertCounts(ctx, to, m.Alerts, firing, 0); err != nil {
			return m, err
		}
	}
	return m, nil
}
