package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
)

const heartbeatColumns = `id, name, secret_hash, period, grace, labels, state, deadline, last_ping_at, started_at, failed_at,
	down_since, last_log, pings, created_by, created_at`

func scanHeartbeat(row scanner) (*heartbeat.Heartbeat, error) {
	var h heartbeat.Heartbeat
	var period, grace, deadline, created int64
	var labels, state string
	var ping, started, failed, down sql.NullInt64
	if err := noRows(row.Scan(&h.ID, &h.Name, &h.SecretHash, &period, &grace, &labels, &state, &deadline, &ping, &started, &failed,
		&down, &h.LastLog, &h.Pings, &h.CreatedBy, &created)); err != nil {
		return nil, err
	}
	h.Period, h.Grace = time.Duration(period)*time.Second, time.Duration(grace)*time.Second
	h.State, h.Deadline, h.CreatedAt = heartbeat.State(state), fromMicros(deadline), fromMicros(created)
	h.LastPingAt, h.StartedAt, h.FailedAt, h.DownSince = fromNullMicros(ping), fromNullMicros(started), fromNullMicros(failed), fromNullMicros(down)
	if err := json.Unmarshal([]byte(labels), &h.Labels); err != nil {
		return nil, err
	}
	return &h, nil
}

// InsertHeartbeat stores a new heartbeat; a taken name is a conflict.
func (t *Tx) InsertHeartbeat(ctx context.Context, h *heartbeat.Heartbeat) error {
	labels, _ := json.Marshal(nonNilMap(h.Labels))
	_, err := t.q.ExecContext(ctx, `INSERT INTO heartbeats (`+heartbeatColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		h.ID, h.Name, h.SecretHash, int64(h.Period/time.Second), int64(h.Grace/time.Second), string(labels), string(h.State),
		micros(h.Deadline), nullMicros(h.LastPingAt), nullMicros(h.StartedAt), nullMicros(h.FailedAt), nullMicros(h.DownSince),
		h.LastLog, h.Pings, h.CreatedBy, micros(h.CreatedAt))
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "heartbeat_exists", err, "a heartbeat named %q already exists", h.Name)
	}
	return err
}

// Heartbeats lists live heartbeats by name.
func (t *Tx) Heartbeats(ctx context.Context) ([]*heartbeat.Heartbeat, error) {
	return collect(scanHeartbeat)(t.q.QueryContext(ctx, `SELECT `+heartbeatColumns+` FROM heartbeats WHERE deleted_at IS NULL ORDER BY name`))
}

// Heartbeat reads a live heartbeat by id or name.
func (t *Tx) Heartbeat(ctx context.Context, idOrName string) (*heartbeat.Heartbeat, error) {
	return scanHeartbeat(t.q.QueryRowContext(ctx, `SELECT `+heartbeatColumns+` FROM heartbeats
		WHERE (id = $1 OR name = $1) AND deleted_at IS NULL ORDER BY id = $1 DESC LIMIT 1`, idOrName))
}

// LockHeartbeat is Heartbeat holding the row, on PostgreSQL, until the
// transaction ends: a removal and a ping or a check apply one after the
// other.
func (t *Tx) LockHeartbeat(ctx context.Context, idOrName string) (*heartbeat.Heartbeat, error) {
	return scanHeartbeat(t.q.QueryRowContext(ctx, `SELECT `+heartbeatColumns+` FROM heartbeats
		WHERE (id = $1 OR name = $1) AND deleted_at IS NULL ORDER BY id = $1 DESC LIMIT 1`+t.forUpdate(), idOrName))
}

// LockHeartbeatBySecret reads the live heartbeat whose ping key hashes to
// secretHash and, on PostgreSQL, holds its row until the transaction ends,
// so a ping and the deadline check of another replica apply one after
// the other.
func (t *Tx) LockHeartbeatBySecret(ctx context.Context, secretHash string) (*heartbeat.Heartbeat, error) {
	return scanHeartbeat(t.q.QueryRowContext(ctx, `SELECT `+heartbeatColumns+` FROM heartbeats
		WHERE secret_hash = $1 AND deleted_at IS NULL`+t.forUpdate(), secretHash))
}

// DueHeartbeats lists up to limit ids of up heartbeats whose deadline is
// at or before now, earliest first.
func (t *Tx) DueHeartbeats(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT id FROM heartbeats WHERE state = 'up' AND deleted_at IS NULL AND deadline <= $1
		ORDER BY deadline, id LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClaimMissedHeartbeat marks an up heartbeat whose deadline is at or
// before now down, and returns it; ErrNotFound when it is not due (any
// more): a ping came, or another replica claimed it first. The guarded
// UPDATE is the claim, so two replicas never fire one deadline twice.
func (t *Tx) ClaimMissedHeartbeat(ctx context.Context, id string, now time.Time) (*heartbeat.Heartbeat, error) {
	return scanHeartbeat(t.q.QueryRowContext(ctx, `UPDATE heartbeats SET state = 'down', down_since = $2
		WHERE id = $1 AND state = 'up' AND deleted_at IS NULL AND deadline <= $2 RETURNING `+heartbeatColumns, id, micros(now)))
}

// SaveHeartbeatPing stores what a ping changed.
func (t *Tx) SaveHeartbeatPing(ctx context.Context, h *heartbeat.Heartbeat) error {
	_, err := t.q.ExecContext(ctx, `UPDATE heartbeats SET state = $2, deadline = $3, last_ping_at = $4, started_at = $5, failed_at = $6,
		down_since = $7, last_log = $8, pings = $9 WHERE id = $1`,
		h.ID, string(h.State), micros(h.Deadline), nullMicros(h.LastPingAt), nullMicros(h.StartedAt), nullMicros(h.FailedAt),
		nullMicros(h.DownSince), h.LastLog, h.Pings)
	return err
}

// DeleteHeartbeat retires a heartbeat: its ping URL stops working.
func (t *Tx) DeleteHeartbeat(ctx context.Context, id string, at time.Time) error {
	res, err := t.q.ExecContext(ctx, `UPDATE heartbeats SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL`, micros(at), id)
	return affected(res, err)
}

// HeartbeatStates counts live heartbeats by state, for metrics.
func (t *Tx) HeartbeatStates(ctx context.Context) (map[heartbeat.State]int64, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT state, count(*) FROM heartbeats WHERE deleted_at IS NULL GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[heartbeat.State]int64{heartbeat.Up: 0, heartbeat.Down: 0}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[heartbeat.State(s)] = n
	}
	return out, rows.Err()
}

// UpdateHeartbeat stores an edited heartbeat's name, schedule, labels and
// deadline; a taken name is a conflict.
func (t *Tx) UpdateHeartbeat(ctx context.Context, h *heartbeat.Heartbeat) error {
	labels, _ := json.Marshal(nonNilMap(h.Labels))
	res, err := t.q.ExecContext(ctx, `UPDATE heartbeats SET name = $2, period = $3, grace = $4, labels = $5, deadline = $6
		WHERE id = $1 AND deleted_at IS NULL`,
		h.ID, h.Name, int64(h.Period/time.Second), int64(h.Grace/time.Second), string(labels), micros(h.Deadline))
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "heartbeat_exists", err, "a heartbeat named %q already exists", h.Name)
	}
	return affected(res, err)
}

// SetHeartbeatSecret replaces the hash of a heartbeat's ping key: the old
// URL stops working when the transaction commits.
func (t *Tx) SetHeartbeatSecret(ctx context.Context, id, secretHash string) error {
	res, err := t.q.ExecContext(ctx, `UPDATE heartbeats SET secret_hash = $2 WHERE id = $1 AND deleted_at IS NULL`, id, secretHash)
	return affected(res, err)
}
