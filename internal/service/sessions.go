package service

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// Session lifetimes: a login lasts 30 days, or 7 days without use.
const (
	SessionLifetime = 30 * 24 * time.Hour
	SessionIdle     = 7 * 24 * time.Hour
	// SessionPrefix marks session cookie secrets.
	SessionPrefix = "qs_"
)

// Sign-in throttling: after this many failures within the window, further
// attempts for that account (or from that address) are refused until the
// window has passed, correct password or not.
const (
	throttleWindow     = 15 * time.Minute
	maxAccountFailures = 5
	maxAddressFailures = 30
)

// Client describes where a request came from, for sessions and the audit log.
type Client struct {
	Remote    string
	UserAgent string
}

// maxUserAgent caps the user agent a session keeps.
const maxUserAgent = 300

// Host is the remote address without its port, cut to the length of the
// longest real one: it keys the throttle and lands in the audit log.
func (c Client) Host() string {
	h, _, err := net.SplitHostPort(c.Remote)
	if err != nil {
		h = c.Remote
	}
	return text.Line(h, maxAuditRemote)
}

var errBadLogin = problem.New(problem.Unauthenticated, "bad_credentials", "wrong user name or password")

// throttle counts recent sign-in failures per key in the database, so a
// throttle holds across replicas: an attacker spreading guesses over
// every replica behind the balancer gets no more tries than against one.
// Retention removes the failures past the window.
type throttle struct {
	store *store.Store
}

// blocked reports whether key had max failures in the window before now,
// and how long until the oldest of them leaves it.
func (t *throttle) blocked(ctx context.Context, key string, max int, now time.Time) (time.Duration, bool, error) {
	var n int
	var oldest time.Time
	err := t.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
		n, oldest, err = tx.SigninFailures(ctx, key, now.Add(-throttleWindow+time.Microsecond))
		return err
	})
	if err != nil || n < max {
		return 0, false, err
	}
	return oldest.Add(throttleWindow).Sub(now), true, nil
}

// count is how many failures key had in the window before now.
func (t *throttle) count(ctx context.Context, key string, now time.Time) (int, error) {
	var n int
	err := t.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
		n, _, err = tx.SigninFailures(ctx, key, now.Add(-throttleWindow+time.Microsecond))
		return err
	})
	return n, err
}

func (t *throttle) fail(ctx context.Context, now time.Time, keys ...string) error {
	return t.store.Write(ctx, func(tx *store.Tx) error { return tx.AddSigninFailure(ctx, now, keys...) })
}

func (t *throttle) clear(ctx context.Context, key string) error {
	return t.store.Write(ctx, func(tx *store.Tx) error { return tx.ClearSigninFailures(ctx, key) })
}

// unknownRowsPerAddress is how many failed sign-ins for accounts that do
// not exist one address gets a row each for in a throttle window; the rest
// of that window's are counted in one row.
const unknownRowsPerAddress = 5

// Login checks a user name and password and opens a session. Unknown users,
// disabled users and wrong passwords get the same answer after the same
// work, so the answer says nothing about which accounts exist. Failures go
// to the audit log, floods of them as counted rows (audit.go).
func (s *Service) Login(ctx context.Context, username, password string, c Client) (string, *auth.Session, error) {
	now := s.Now()
	s.FlushAudit(ctx, false)
	// A name no account can have is not looked up, has no account to
	// throttle, and is kept in the audit log only as long as a real one.
	username, badName := auth.CheckUsername(username)
	valid := badName == nil
	name := text.Line(username, maxUsername)
	accountKey, addressKey := "user:"+username, "addr:"+c.Host()
	keys := []struct {
		key, by string
		max     int
	}{{accountKey, "account", maxAccountFailures}, {addressKey, "address", maxAddressFailures}}
	if !valid {
		keys = keys[1:]
	}
	for _, k := range keys {
		wait, ok, err := s.throttle.blocked(ctx, k.key, k.max, now)
		if err != nil {
			return "", nil, err
		}
		if ok {
			s.countAudit(ctx, "login_throttled "+k.key, now.Add(wait), &auth.AuditEntry{At: now, Actor: name, Action: "login_throttled",
				Target: name, Remote: c.Host(), Detail: map[string]any{"by": k.by}})
			return "", nil, problem.New(problem.TooManyRequests, "too_many_attempts",
				"too many failed sign-ins; try again in %d minute(s)", int(wait.Minutes())+1).With("retry_after", int(wait.Seconds())+1)
		}
	}
	var u *auth.User
	if valid {
		err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) { u, err = tx.UserByName(ctx, username); return err })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", nil, err
		}
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	ok, fresh, err := s.checkPassword(ctx, hash, password)
	if err != nil {
		return "", nil, err
	}
	if !ok || u.Disabled {
		earlier, err := s.throttle.count(ctx, addressKey, now)
		if err != nil {
			return "", nil, err
		}
		failed := []string{addressKey}
		if valid {
			failed = append(failed, accountKey)
		}
		// Unrecorded, a failure would cost a guesser nothing: without the
		// database the answer is a 503, not "wrong password".
		if err := s.throttle.fail(ctx, now, failed...); err != nil {
			return "", nil, err
		}
		e := &auth.AuditEntry{At: now, Actor: name, Action: "login_failed", Target: name, Remote: c.Host()}
		switch {
		case u == nil:
			e.Detail = map[string]any{"reason": "unknown user"}
			if earlier >= unknownRowsPerAddress {
				s.countAudit(ctx, "login_failed "+addressKey, now.Add(throttleWindow), e)
				return "", nil, errBadLogin
			}
		case ok:
			e.Detail = map[string]any{"reason": "disabled"}
		default:
			e.Detail = map[string]any{"reason": "wrong password"}
		}
		s.appendAudit(ctx, e)
		return "", nil, errBadLogin
	}
	if err := s.throttle.clear(ctx, accountKey); err != nil {
		return "", nil, err
	}
	if fresh != "" {
		s.rehash(ctx, u, fresh)
	}
	return s.openSession(ctx, u, "password", c)
}

// rehash stores a password hash made with today's parameters after a
// successful sign-in, unless the password changed meanwhile. It is
// bookkeeping: a failure only leaves the old hash in place.
func (s *Service) rehash(ctx context.Context, u *auth.User, fresh string) {
	var done bool
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		done, err = tx.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, fresh, s.Now())
		return err
	})
	switch {
	case err != nil:
		s.log.Warn("password not re-hashed", "user", u.Username, "err", err)
	case done:
		s.log.Info("password re-hashed with today's parameters", "user", u.Username)
	}
}

// openSession creates a session for u and records the sign-in.
func (s *Service) openSession(ctx context.Context, u *auth.User, via string, c Client) (string, *auth.Session, error) {
	now := s.Now()
	secret := auth.NewSecret(SessionPrefix)
	sess := &auth.Session{ID: auth.NewSecret("")[:16], UserID: u.ID, Username: u.Username, CSRF: auth.NewSecret(""), Via: via,
		UserAgent: text.Line(c.UserAgent, maxUserAgent), Remote: c.Host(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionLifetime)}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertSession(ctx, sess, auth.HashToken(secret)); err != nil {
			return err
		}
		return audit(ctx, tx, now, u.Username, "login", u.Username, c, map[string]any{"via": via, "session": sess.ID})
	})
	if err != nil {
		return "", nil, err
	}
	return secret, sess, nil
}

var errBadSession = problem.New(problem.Unauthenticated, "invalid_session", "your session has ended; please sign in again")

// AuthenticateSession resolves a session cookie to its principal.
func (s *Service) AuthenticateSession(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, SessionPrefix) || len(secret) > 200 {
		return auth.Principal{}, errBadSession
	}
	var sess *auth.Session
	var u *auth.User
	err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
		sess, u, err = tx.SessionByHash(ctx, auth.HashToken(secret))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, errBadSession
	}
	if err != nil {
		return auth.Principal{}, err
	}
	now := s.Now()
	if !sess.Usable(now) || now.Sub(sess.LastSeenAt) > SessionIdle || u.Disabled {
		return auth.Principal{}, errBadSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.WriteUnsynced(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, sess.ID, now) }); err != nil {
			s.log.Warn("session last-seen not recorded", "err", err)
		}
		sess.LastSeenAt = now
	}
	return auth.Principal{User: u, Session: sess}, nil
}

// Logout ends the principal's session.
func (s *Service) Logout(ctx context.Context, p auth.Principal, c Client) error {
	if p.Session == nil {
		return nil
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeSession(ctx, p.Session.ID, s.Now()); err != nil {
			return err
		}
		return audit(ctx, tx, s.Now(), p.Name(), "logout", p.Name(), c, map[string]any{"session": p.Session.ID})
	})
}

// Sessions lists live sessions: everyone's for admins, one's own for others.
func (s *Service) Sessions(ctx context.Context, p auth.Principal) ([]*auth.Session, error) {
	if p.IsAnonymous() {
		return nil, errLogin
	}
	var uid int64
	if !p.Can(auth.Administer) {
		uid = p.User.ID
	}
	var out []*auth.Session
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Sessions(ctx, uid, s.Now()); return err })
	return out, err
}

// RevokeSession ends a session; others' sessions look absent to non-admins.
func (s *Service) RevokeSession(ctx context.Context, p auth.Principal, id string, c Client) error {
	if p.IsAnonymous() {
		return errLogin
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		sess, err := tx.Session(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && sess.UserID != p.User.ID && !p.Can(auth.Administer)) {
			return problem.New(problem.NotFound, "not_found", "session %s not found", id)
		}
		if err != nil {
			return err
		}
		if err := tx.RevokeSession(ctx, id, s.Now()); err != nil {
			return err
		}
		return audit(ctx, tx, s.Now(), p.Name(), "session_revoked", sess.Username, c, map[string]any{"session": id})
	})
}

// ChangePassword lets people change their own password; their other
// sessions end, the current one stays.
func (s *Service) ChangePassword(ctx context.Context, p auth.Principal, old, new string, c Client) error {
	if p.IsAnonymous() {
		return errLogin
	}
	if p.Token != nil {
		return forbidden("change passwords with an API token")
	}
	if err := auth.CheckPassword(new); err != nil {
		return problem.Unprocessablef("%v", err)
	}
	var u *auth.User
	if err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) { u, err = tx.UserByID(ctx, p.User.ID); return err }); err != nil {
		return err
	}
	// Hashing happens outside the transaction, which holds the only
	// writer; the swap below refuses if the password changed meanwhile.
	ok, _, err := s.checkPassword(ctx, u.PasswordHash, old)
	if err != nil {
		return err
	}
	if !ok {
		return problem.New(problem.Forbidden, "bad_credentials", "the current password is wrong")
	}
	hash, err := s.hashPassword(ctx, new)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		swapped, err := tx.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, hash, s.Now())
		if err != nil {
			return err
		}
		if !swapped {
			return problem.New(problem.Conflict, "password_changed", "the password was changed meanwhile; sign in again")
		}
		keep := ""
		if p.Session != nil {
			keep = p.Session.ID
		}
		if _, err := tx.RevokeUserSessions(ctx, u.ID, keep, s.Now()); err != nil {
			return err
		}
		return audit(ctx, tx, s.Now(), p.Name(), "password_changed", u.Username, c, nil)
	})
}

// Audit lists the newest audit entries for admins.
func (s *Service) Audit(ctx context.Context, p auth.Principal, limit int, before int64) ([]*auth.AuditEntry, error) {
	if err := require(p, auth.Administer, "read the audit log"); err != nil {
		return nil, err
	}
	var out []*auth.AuditEntry
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Audit(ctx, limit, before); return err })
	return out, err
}
