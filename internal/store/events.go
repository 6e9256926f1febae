package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/quenchhq/quench/internal/incident"
)

// AppendEvent adds an entry to an incident's timeline and sets its ID.
// Events are never changed or removed; triggers enforce it.
func (t *Tx) AppendEvent(ctx context.Context, e *incident.Event) error {
	data := []byte("{}")
	if len(e.Data) > 0 {
		var err error
		if data, err = json.Marshal(e.Data); err != nil {
			return fmt.Errorf("event data: %w", err)
		}
	}
	var updateID any
	if e.UpdateID != 0 {
		updateID = e.UpdateID
	}
	const insert = `INSERT INTO events (incident_number, at, actor, kind, update_id, internal, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if t.dialect == SQLite {
		// The row id from the connection, not RETURNING: a statement
		// without rows to scan spares the driver building them, and
		// every change and alert appends an event.
		res, err := t.q.ExecContext(ctx, insert, e.Incident, micros(e.At), e.Actor, e.Kind, updateID, e.Internal, string(data))
		if err != nil {
			return err
		}
		e.ID, err = res.LastInsertId()
		return err
	}
	return t.q.QueryRowContext(ctx, insert+` RETURNING id`,
		e.Incident, micros(e.At), e.Actor, e.Kind, updateID, e.Internal, string(data)).Scan(&e.ID)
}

// Timeline lists an incident's events, oldest first. publicOnly leaves out
// internal events and events about updates that are not public now.
func (t *Tx) Timeline(ctx context.Context, number int64, publicOnly bool) ([]*incident.TimelineEntry, error) {
	q := `SELECT e.id, e.at, e.actor, e.kind, e.internal, e.data, u.id, u.author, u.body, u.visibility, u.created_at, u.updated_at
		FROM events e LEFT JOIN updates u ON u.id = e.update_id
		WHERE e.incident_number = $1`
	if publicOnly {
		q += ` AND (e.update_id IS NULL OR u.visibility = 'public') AND e.internal = $2`
	}
	a := []any{number}
	if publicOnly {
		a = append(a, false)
	}
	rows, err := t.q.QueryContext(ctx, q+` ORDER BY e.id`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*incident.TimelineEntry
	for rows.Next() {
		var (
			e                    incident.TimelineEntry
			at                   int64
			data                 string
			uid, ucreat, uupdate sql.NullInt64
			author, body, vis    sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Kind, &e.Internal, &data, &uid, &author, &body, &vis, &ucreat, &uupdate); err != nil {
			return nil, err
		}
		e.Incident, e.At = number, fromMicros(at)
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			return nil, fmt.Errorf("event %d data: %w", e.ID, err)
		}
		if uid.Valid {
			e.UpdateID = uid.Int64
			e.Update = &incident.Update{ID: uid.Int64, Incident: number, Author: author.String, Body: body.String,
				Visibility: incident.Visibility(vis.String), CreatedAt: fromMicros(ucreat.Int64), UpdatedAt: fromMicros(uupdate.Int64)}
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}
