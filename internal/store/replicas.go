package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ClaimLease makes holder the holder of the job lease name until until,
// if the lease is free, ran out before now, or is holder's already (a
// renewal). It reports whether holder holds it now. Concurrent claims of
// a free lease are decided by the primary key: one wins.
func (t *Tx) ClaimLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	var got string
	err := t.q.QueryRowContext(ctx, `INSERT INTO job_leases (name, holder, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
		WHERE job_leases.lease_until <= $4 OR job_leases.holder = excluded.holder
		RETURNING holder`, name, holder, micros(until), micros(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && got == holder, err
}

// ReleaseLease gives a lease up if holder holds it, so another replica
// need not wait for it to run out (a clean shutdown).
func (t *Tx) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM job_leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

// SigninFailures counts key's failed sign-ins at or after since, and
// returns the oldest of them.
func (t *Tx) SigninFailures(ctx context.Context, key string, since time.Time) (n int, oldest time.Time, err error) {
	var first sql.NullInt64
	err = t.q.QueryRowContext(ctx, `SELECT count(*), min(at) FROM signin_failures WHERE key = $1 AND at >= $2`,
		key, micros(since)).Scan(&n, &first)
	return n, fromNullMicros(first), err
}

// AddSigninFailure records a failed sign-in for each key.
func (t *Tx) AddSigninFailure(ctx context.Context, at time.Time, keys ...string) error {
	for _, k := range keys {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO signin_failures (key, at) VALUES ($1, $2)`, k, micros(at)); err != nil {
			return err
		}
	}
	return nil
}

// ClearSigninFailures forgets key's failed sign-ins (a successful one).
func (t *Tx) ClearSigninFailures(ctx context.Context, key string) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = $1`, key)
	return err
}

// DeleteSigninFailuresBefore removes failed sign-ins older than before:
// past the throttle window they count for nothing.
func (t *Tx) DeleteSigninFailuresBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM signin_failures WHERE at < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
