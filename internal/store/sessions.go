package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
)

const sessionColumns = `s.id, s.user_id, u.username, s.csrf, s.via, s.user_agent, s.remote, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at`

type sessionRow struct {
	s                      auth.Session
	created, seen, expires int64
	revoked                sql.NullInt64
}

func (r *sessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.s.Username, &r.s.CSRF, &r.s.Via, &r.s.UserAgent, &r.s.Remote, &r.created, &r.seen, &r.expires, &r.revoked}
}

func (r *sessionRow) session() *auth.Session {
	r.s.CreatedAt, r.s.LastSeenAt, r.s.ExpiresAt, r.s.RevokedAt = fromMicros(r.created), fromMicros(r.seen), fromMicros(r.expires), fromNullMicros(r.revoked)
	return &r.s
}

func scanSession(row scanner) (*auth.Session, error) {
	var r sessionRow
	if err := noRows(row.Scan(r.dest()...)); err != nil {
		return nil, err
	}
	return r.session(), nil
}

// InsertSession stores a new session under the hash of its secret.
func (t *Tx) InsertSession(ctx context.Context, s *auth.Session, hash string) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO sessions (id, hash, user_id, csrf, via, user_agent, remote, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.ID, hash, s.UserID, s.CSRF, s.Via, s.UserAgent, s.Remote, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
	return err
}

// SessionByHash finds a session and its user by the hash of its secret.
func (t *Tx) SessionByHash(ctx context.Context, hash string) (*auth.Session, *auth.User, error) {
	row := t.q.QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+prefixed("u.", userColumns)+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = $1`, hash)
	var sr sessionRow
	var ur userRow
	if err := noRows(row.Scan(append(sr.dest(), ur.dest()...)...)); err != nil {
		return nil, nil, err
	}
	return sr.session(), ur.user(), nil
}

// Session reads a session by its public ID.
func (t *Tx) Session(ctx context.Context, id string) (*auth.Session, error) {
	return scanSession(t.q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`, id))
}

// Sessions lists sessions still usable at now, of one user when userID is
// not 0, newest first.
func (t *Tx) Sessions(ctx context.Context, userID int64, now time.Time) ([]*auth.Session, error) {
	a := args{micros(now)}
	q := `SELECT ` + sessionColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.revoked_at IS NULL AND s.expires_at > $1`
	if userID != 0 {
		q += ` AND s.user_id = ` + a.add(userID)
	}
	return collect(scanSession)(t.q.QueryContext(ctx, q+` ORDER BY s.created_at DESC`, a...))
}

// RevokeSession ends one session.
func (t *Tx) RevokeSession(ctx context.Context, id string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, micros(at), id)
	return err
}

// RevokeUserSessions ends every session of a user except keep (may be "")
// and returns how many it ended.
func (t *Tx) RevokeUserSessions(ctx context.Context, userID int64, keep string, at time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL`, micros(at), userID, keep)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TouchSession records when a session was last used.
func (t *Tx) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, micros(at), id)
	return err
}

// DeleteExpiredSessions removes sessions that ended before cutoff.
func (t *Tx) DeleteExpiredSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1`, micros(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// IdentityUser finds the account linked to (issuer, subject).
func (t *Tx) IdentityUser(ctx context.Context, issuer, subject string) (*auth.User, error) {
	return scanUser(t.q.QueryRowContext(ctx, `SELECT `+prefixed("u.", userColumns)+`
		FROM identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2`, issuer, subject))
}

// LinkIdentity ties (issuer, subject) to a user.
func (t *Tx) LinkIdentity(ctx context.Context, issuer, subject string, userID int64, email string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO identities (issuer, subject, user_id, email, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $5)`, issuer, subject, userID, email, micros(at))
	return err
}

// TouchIdentity records a login through (issuer, subject).
func (t *Tx) TouchIdentity(ctx context.Context, issuer, subject, email string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE identities SET last_login_at = $1, email = $2 WHERE issuer = $3 AND subject = $4`, micros(at), email, issuer, subject)
	return err
}

// AppendAudit adds an entry to the audit log.
func (t *Tx) AppendAudit(ctx context.Context, e *auth.AuditEntry) error {
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return err
		}
	}
	return t.q.QueryRowContext(ctx, `INSERT INTO audit (at, actor, action, target, remote, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		micros(e.At), e.Actor, e.Action, e.Target, e.Remote, string(detail)).Scan(&e.ID)
}

// SetAuditDetail replaces an entry's detail: a counted entry (a flood of
// refused sign-ins) gets its final count.
func (t *Tx) SetAuditDetail(ctx context.Context, id int64, detail map[string]any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `UPDATE audit SET detail = $1 WHERE id = $2`, string(b), id)
	return err
}

// DeleteAuditBefore removes entries of the given actions older than cutoff
// and returns how many went.
func (t *Tx) DeleteAuditBefore(ctx context.Context, actions []string, cutoff time.Time) (int64, error) {
	if len(actions) == 0 {
		return 0, nil
	}
	a := args{micros(cutoff)}
	in := make([]string, len(actions))
	for i, act := range actions {
		in[i] = a.add(act)
	}
	res, err := t.q.ExecContext(ctx, `DELETE FROM audit WHERE at < $1 AND action IN (`+strings.Join(in, ", ")+`)`, a...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Audit lists the newest audit entries, before ID before when not 0.
func (t *Tx) Audit(ctx context.Context, limit int, before int64) ([]*auth.AuditEntry, error) {
	var a args
	q := `SELECT id, at, actor, action, target, remote, detail FROM audit`
	if before > 0 {
		q += ` WHERE id < ` + a.add(before)
	}
	rows, err := t.q.QueryContext(ctx, q+` ORDER BY id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*auth.AuditEntry
	for rows.Next() {
		var e auth.AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Remote, &detail); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, errors.New("audit detail is not JSON")
		}
		out = append(out, &e)
	}
	return out, rows.Err()
}
