package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
)

const userColumns = `id, username, display_name, email, role, password_hash, disabled, created_at, updated_at`

// userRow and tokenRow hold the raw columns of one row, so a joined query
// can scan both into one call.
type userRow struct {
	u                auth.User
	created, updated int64
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Username, &r.u.DisplayName, &r.u.Email, &r.u.Role, &r.u.PasswordHash, &r.u.Disabled, &r.created, &r.updated}
}

func (r *userRow) user() *auth.User {
	r.u.CreatedAt, r.u.UpdatedAt = fromMicros(r.created), fromMicros(r.updated)
	return &r.u
}

func scanUser(row scanner) (*auth.User, error) {
	var r userRow
	if err := noRows(row.Scan(r.dest()...)); err != nil {
		return nil, err
	}
	return r.user(), nil
}

// InsertUser stores a new user and sets its ID; a taken name is a conflict.
func (t *Tx) InsertUser(ctx context.Context, u *auth.User) error {
	err := t.q.QueryRowContext(ctx, `INSERT INTO users (username, display_name, email, role, password_hash, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		u.Username, u.DisplayName, u.Email, u.Role, u.PasswordHash, u.Disabled, micros(u.CreatedAt), micros(u.UpdatedAt)).Scan(&u.ID)
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "user_exists", err, "user %s already exists", u.Username)
	}
	return err
}

// UserByName reads a user by user name.
func (t *Tx) UserByName(ctx context.Context, name string) (*auth.User, error) {
	return scanUser(t.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, name))
}

// UserByID reads a user by ID.
func (t *Tx) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	return scanUser(t.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// Users lists all users by name.
func (t *Tx) Users(ctx context.Context) ([]*auth.User, error) {
	return collect(scanUser)(t.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`))
}

// SaveUser writes a user's mutable fields.
func (t *Tx) SaveUser(ctx context.Context, u *auth.User) error {
	_, err := t.q.ExecContext(ctx, `UPDATE users SET display_name = $1, email = $2, role = $3, password_hash = $4, disabled = $5, updated_at = $6 WHERE id = $7`,
		u.DisplayName, u.Email, u.Role, u.PasswordHash, u.Disabled, micros(u.UpdatedAt), u.ID)
	return err
}

// ReplacePasswordHash swaps a user's password hash if it is still old, so a
// hash computed outside the transaction cannot overwrite a change made
// meanwhile; it reports whether it did.
func (t *Tx) ReplacePasswordHash(ctx context.Context, userID int64, old, new string, at time.Time) (bool, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4`,
		new, micros(at), userID, old)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CountAdmins counts enabled admins, so the last one cannot be removed.
func (t *Tx) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = $1`, false).Scan(&n)
	return n, err
}

// CountUsers counts all users.
func (t *Tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

const tokenColumns = `t.id, t.user_id, u.username, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at`

type tokenRow struct {
	tk                     auth.Token
	scopes                 string
	created                int64
	expires, used, revoked sql.NullInt64
}

func (r *tokenRow) dest() []any {
	return []any{&r.tk.ID, &r.tk.UserID, &r.tk.Username, &r.tk.Name, &r.scopes, &r.created, &r.expires, &r.used, &r.revoked}
}

func (r *tokenRow) token() *auth.Token {
	for _, s := range strings.Split(r.scopes, ",") {
		r.tk.Scopes = append(r.tk.Scopes, auth.Scope(s))
	}
	r.tk.CreatedAt, r.tk.ExpiresAt = fromMicros(r.created), fromNullMicros(r.expires)
	r.tk.LastUsedAt, r.tk.RevokedAt = fromNullMicros(r.used), fromNullMicros(r.revoked)
	return &r.tk
}

func scanToken(row scanner) (*auth.Token, error) {
	var r tokenRow
	if err := noRows(row.Scan(r.dest()...)); err != nil {
		return nil, err
	}
	return r.token(), nil
}

// InsertToken stores a token by the hash of its secret and sets its ID.
func (t *Tx) InsertToken(ctx context.Context, tk *auth.Token, hash string) error {
	return t.q.QueryRowContext(ctx, `INSERT INTO tokens (user_id, name, hash, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		tk.UserID, tk.Name, hash, auth.JoinScopes(tk.Scopes), micros(tk.CreatedAt), nullMicros(tk.ExpiresAt)).Scan(&tk.ID)
}

// TokenByHash finds a token and its user by the hash of its secret.
func (t *Tx) TokenByHash(ctx context.Context, hash string) (*auth.Token, *auth.User, error) {
	row := t.q.QueryRowContext(ctx, `SELECT `+tokenColumns+`, `+prefixed("u.", userColumns)+`
		FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1`, hash)
	var tr tokenRow
	var ur userRow
	if err := noRows(row.Scan(append(tr.dest(), ur.dest()...)...)); err != nil {
		return nil, nil, err
	}
	return tr.token(), ur.user(), nil
}

// Token reads a token by ID.
func (t *Tx) Token(ctx context.Context, id int64) (*auth.Token, error) {
	return scanToken(t.q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1`, id))
}

// Tokens lists tokens, of one user when userID is not 0.
func (t *Tx) Tokens(ctx context.Context, userID int64) ([]*auth.Token, error) {
	q := `SELECT ` + tokenColumns + ` FROM tokens t JOIN users u ON u.id = t.user_id`
	var a args
	if userID != 0 {
		q += ` WHERE t.user_id = ` + a.add(userID)
	}
	return collect(scanToken)(t.q.QueryContext(ctx, q+` ORDER BY t.id`, a...))
}

// RevokeToken marks a token revoked at at; revoking twice keeps the first time.
func (t *Tx) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, micros(at), id)
	return err
}

// RevokeUserTokens revokes every live token of a user at at and returns
// how many it revoked; revoked tokens stay revoked whatever happens to the
// user later.
func (t *Tx) RevokeUserTokens(ctx context.Context, userID int64, at time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, micros(at), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TouchToken records when a token was last used.
func (t *Tx) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, micros(at), id)
	return err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
