package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// System acts for the operator at the command line (`quench user add`),
// which talks to the database directly.
var System = auth.Principal{User: &auth.User{Username: "quench", Role: auth.RoleAdmin}}

// NewUser is what an admin supplies for an account.
type NewUser struct {
	Username    string
	DisplayName string
	Email       string
	Role        auth.Role
	Password    string
}

// CreateUser adds an account.
func (s *Service) CreateUser(ctx context.Context, p auth.Principal, n NewUser) (*auth.User, error) {
	if err := require(p, auth.Administer, "manage users"); err != nil {
		return nil, err
	}
	name, err := auth.CheckUsername(n.Username)
	if err != nil {
		return nil, problem.Unprocessablef("%v", err)
	}
	n.Username = name
	if n.Role == "" {
		n.Role = auth.RoleResponder
	}
	if _, err := auth.ParseRole(string(n.Role)); err != nil {
		return nil, err
	}
	if err := auth.CheckPassword(n.Password); err != nil {
		return nil, problem.Unprocessablef("%v", err)
	}
	email, err := CheckEmail(n.Email)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	u := &auth.User{Username: n.Username, DisplayName: text.Line(n.DisplayName, 200), Email: email,
		Role: n.Role, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "user_created", u.Username, map[string]any{"role": u.Role})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("user created", "user", u.Username, "role", u.Role, "by", p.Name())
	return u, nil
}

// EnsureAdmin creates the first admin from the environment on first start;
// an existing account of that name is left alone.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (created bool, err error) {
	_, err = s.CreateUser(ctx, System, NewUser{Username: username, Role: auth.RoleAdmin, Password: password})
	if problem.Is(err, "user_exists") {
		return false, nil
	}
	return err == nil, err
}

// Users lists all accounts.
func (s *Service) Users(ctx context.Context, p auth.Principal) ([]*auth.User, error) {
	if err := require(p, auth.Administer, "manage users"); err != nil {
		return nil, err
	}
	var out []*auth.User
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Users(ctx); return err })
	return out, err
}

// CountUsers tells whether anyone can log in yet.
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { n, err = tx.CountUsers(ctx); return err })
	return n, err
}

// UserPatch changes an account; nil fields stay.
type UserPatch struct {
	DisplayName *string
	Email       *string
	Role        *auth.Role
	Disabled    *bool
	Password    *string
	// KeepTokens leaves the user's API tokens alive through a password
	// reset; by default a reset revokes them with the sessions.
	KeepTokens bool
}

// UpdateUser changes an account. The last enabled admin cannot be demoted
// or disabled, so the instance never locks its operators out. Disabling a
// user ends their sessions and revokes their tokens for good: enabling
// them again brings neither back. A password reset ends their sessions and,
// unless asked to keep them, revokes their tokens.
func (s *Service) UpdateUser(ctx context.Context, p auth.Principal, username string, c UserPatch) (*auth.User, error) {
	if err := require(p, auth.Administer, "manage users"); err != nil {
		return nil, err
	}
	var hash string
	if c.Password != nil {
		if err := auth.CheckPassword(*c.Password); err != nil {
			return nil, problem.Unprocessablef("%v", err)
		}
		var err error
		if hash, err = s.hashPassword(ctx, *c.Password); err != nil {
			return nil, err
		}
	}
	var u *auth.User
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if u, err = tx.UserByName(ctx, username); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return problem.New(problem.NotFound, "not_found", "user %s not found", username)
			}
			return err
		}
		wasAdmin := u.Role == auth.RoleAdmin && !u.Disabled
		before := *u
		if c.DisplayName != nil {
			u.DisplayName = text.Line(*c.DisplayName, 200)
		}
		if c.Email != nil {
			if u.Email, err = CheckEmail(*c.Email); err != nil {
				return err
			}
		}
		if c.Role != nil {
			if _, err := auth.ParseRole(string(*c.Role)); err != nil {
				return err
			}
			u.Role = *c.Role
		}
		if c.Disabled != nil {
			u.Disabled = *c.Disabled
		}
		if c.Password != nil {
			u.PasswordHash = hash
		}
		if wasAdmin && (u.Role != auth.RoleAdmin || u.Disabled) {
			n, err := tx.CountAdmins(ctx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return problem.New(problem.Conflict, "last_admin", "%s is the last admin; make someone else admin first", username)
			}
		}
		u.UpdatedAt = s.Now()
		if err := tx.SaveUser(ctx, u); err != nil {
			return err
		}
		now := s.Now()
		if c.Password != nil {
			// An admin reset ends every session: whoever knew the old
			// password is out, and by default so is any token they made.
			sessions, err := tx.RevokeUserSessions(ctx, u.ID, "", now)
			if err != nil {
				return err
			}
			detail := map[string]any{"sessions_ended": sessions, "revoke_tokens": !c.KeepTokens}
			if !c.KeepTokens {
				if detail["tokens_revoked"], err = tx.RevokeUserTokens(ctx, u.ID, now); err != nil {
					return err
				}
			}
			if err := s.auditBy(ctx, tx, p, "password_reset", u.Username, detail); err != nil {
				return err
			}
		}
		if u.Role != before.Role {
			if err := s.auditBy(ctx, tx, p, "role_changed", u.Username, map[string]any{"from": before.Role, "to": u.Role}); err != nil {
				return err
			}
		}
		if u.Disabled != before.Disabled {
			action, detail := "user_enabled", map[string]any(nil)
			if u.Disabled {
				action = "user_disabled"
				sessions, err := tx.RevokeUserSessions(ctx, u.ID, "", now)
				if err != nil {
					return err
				}
				tokens, err := tx.RevokeUserTokens(ctx, u.ID, now)
				if err != nil {
					return err
				}
				detail = map[string]any{"sessions_ended": sessions, "tokens_revoked": tokens}
			}
			if err := s.auditBy(ctx, tx, p, action, u.Username, detail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// NewToken is what a caller supplies to mint a token.
type NewToken struct {
	Username string // owner; default the caller
	Name     string
	Scopes   []auth.Scope
	TTL      time.Duration // 0: no expiry
}

// CreateToken mints an API token and returns its secret, shown only now.
// Admins mint for anyone; others only for themselves. Tokens mint only
// with the admin scope, never grant more than their own scopes and never
// outlive themselves: a token made by an expiring token expires with it.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, n NewToken) (string, *auth.Token, error) {
	if p.IsAnonymous() {
		return "", nil, errLogin
	}
	if n.Username == "" {
		n.Username = p.Name()
	}
	if n.Username != p.Name() && !p.Can(auth.Administer) {
		return "", nil, forbidden("create tokens for other users")
	}
	if len(n.Scopes) == 0 {
		return "", nil, problem.Unprocessablef("a token needs at least one scope")
	}
	if n.TTL < 0 {
		return "", nil, problem.Unprocessablef("expiry must be in the future")
	}
	name := text.Line(n.Name, 100)
	if name == "" {
		name = "token"
	}
	secret := auth.NewSecret(auth.TokenPrefix)
	var tk *auth.Token
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		owner, err := tx.UserByName(ctx, n.Username)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(problem.NotFound, "not_found", "user %s not found", n.Username)
		}
		if err != nil {
			return err
		}
		if owner.Disabled {
			return problem.Unprocessablef("user %s is disabled", owner.Username)
		}
		if err := auth.CheckGrant(p, owner, n.Scopes); err != nil {
			return err
		}
		now := s.Now()
		tk = &auth.Token{UserID: owner.ID, Username: owner.Username, Name: name, Scopes: n.Scopes, CreatedAt: now}
		var want time.Time
		if n.TTL > 0 {
			want = now.Add(n.TTL)
		}
		tk.ExpiresAt = auth.CapExpiry(p, want)
		if err := tx.InsertToken(ctx, tk, auth.HashToken(secret)); err != nil {
			return err
		}
		detail := map[string]any{"token": tk.ID, "name": tk.Name, "scopes": auth.JoinScopes(tk.Scopes)}
		if p.Token != nil {
			detail["by_token"] = p.Token.ID
		}
		if !tk.ExpiresAt.IsZero() {
			detail["expires_at"] = tk.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return s.auditBy(ctx, tx, p, "token_created", owner.Username, detail)
	})
	if err != nil {
		return "", nil, err
	}
	s.log.Info("token created", "token_id", tk.ID, "user", tk.Username, "scopes", auth.JoinScopes(tk.Scopes), "by", p.Name())
	return secret, tk, nil
}

// Tokens lists tokens: all for admins, one's own for others.
func (s *Service) Tokens(ctx context.Context, p auth.Principal) ([]*auth.Token, error) {
	if p.IsAnonymous() {
		return nil, errLogin
	}
	var uid int64
	if !p.Can(auth.Administer) {
		uid = p.User.ID
	}
	var out []*auth.Token
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Tokens(ctx, uid); return err })
	return out, err
}

// RevokeToken ends a token at once. Others' tokens look absent to non-admins.
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, id int64) error {
	if p.IsAnonymous() {
		return errLogin
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		tk, err := tx.Token(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && tk.UserID != p.User.ID && !p.Can(auth.Administer)) {
			return problem.New(problem.NotFound, "not_found", "token %d not found", id)
		}
		if err != nil {
			return err
		}
		s.log.Info("token revoked", "token_id", id, "user", tk.Username, "by", p.Name())
		if err := tx.RevokeToken(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "token_revoked", tk.Username, map[string]any{"token": id, "name": tk.Name})
	})
}

// touchEvery limits last-used bookkeeping to one write per token per minute,
// so reads stay reads. That write is unsynced (Store.WriteUnsynced): the
// request that makes it waits for no fsync, and a power failure can only
// make a last use look a little older.
const touchEvery = time.Minute

var errBadToken = problem.New(problem.Unauthenticated, "invalid_token", "the API token is invalid, expired or revoked")

// AuthenticateToken resolves a bearer token to its principal. Every failure
// looks the same, so a caller learns nothing about which tokens exist.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (auth.Principal, error) {
	if !strings.HasPrefix(secret, auth.TokenPrefix) || len(secret) > 200 {
		return auth.Principal{}, errBadToken
	}
	var tk *auth.Token
	var u *auth.User
	err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) {
		tk, u, err = tx.TokenByHash(ctx, auth.HashToken(secret))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, errBadToken
	}
	if err != nil {
		return auth.Principal{}, err
	}
	now := s.Now()
	if !tk.Usable(now) || u.Disabled {
		return auth.Principal{}, errBadToken
	}
	if now.Sub(tk.LastUsedAt) >= touchEvery {
		// Bookkeeping only: a failure here must not fail the request.
		if err := s.store.WriteUnsynced(ctx, func(tx *store.Tx) error { return tx.TouchToken(ctx, tk.ID, now) }); err != nil {
			s.log.Warn("token last-used not recorded", "token_id", tk.ID, "err", err)
		}
		tk.LastUsedAt = now
	}
	return auth.Principal{User: u, Token: tk}, nil
}
