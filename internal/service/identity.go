package service

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// Identity is a person as a single sign-on provider vouches for them.
type Identity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	Name            string
	Groups          []string
}

var errNoAccount = problem.New(problem.Forbidden, "no_account",
	"your single sign-on account is not linked to a Quench account; ask an admin to invite you")

// LoginIdentity opens a session for the account linked to (issuer,
// subject). An identity never links itself to an existing account by
// e-mail: mayCreate (the instance's domain/group policy) only allows a new
// responder account. The first sign-in of an unknown identity with
// mayCreate false is refused.
func (s *Service) LoginIdentity(ctx context.Context, id Identity, mayCreate bool, c Client) (string, *auth.Session, error) {
	if id.Issuer == "" || id.Subject == "" {
		return "", nil, problem.New(problem.Unauthenticated, "bad_identity", "the identity provider sent no subject")
	}
	var u *auth.User
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		now := s.Now()
		u, err = tx.IdentityUser(ctx, id.Issuer, id.Subject)
		if err == nil {
			return tx.TouchIdentity(ctx, id.Issuer, id.Subject, text.Line(id.Email, 254), now)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !mayCreate {
			return errNoAccount
		}
		u = &auth.User{Username: s.freeUsername(ctx, tx, id), DisplayName: text.Line(id.Name, 200), Email: text.Line(id.Email, 254),
			Role: auth.RoleResponder, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		if err := tx.LinkIdentity(ctx, id.Issuer, id.Subject, u.ID, u.Email, now); err != nil {
			return err
		}
		return audit(ctx, tx, now, u.Username, "user_created", u.Username, c, map[string]any{"via": "oidc", "issuer": id.Issuer})
	})
	if errors.Is(err, errNoAccount) {
		s.auditAlone(ctx, id.Email, "login_failed", id.Subject, c, map[string]any{"via": "oidc", "reason": "no linked account"})
	}
	if err != nil {
		return "", nil, err
	}
	if u.Disabled {
		s.auditAlone(ctx, u.Username, "login_failed", u.Username, c, map[string]any{"via": "oidc", "reason": "disabled"})
		return "", nil, problem.New(problem.Forbidden, "disabled", "this account is disabled")
	}
	return s.openSession(ctx, u, "oidc", c)
}

// LinkIdentity ties an SSO identity to an existing account, for admins who
// invite a person by name (quench user link).
func (s *Service) LinkIdentity(ctx context.Context, p auth.Principal, username, issuer, subject string) error {
	if err := require(p, auth.Administer, "link accounts"); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByName(ctx, username)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(problem.NotFound, "not_found", "user %s not found", username)
		}
		if err != nil {
			return err
		}
		if err := tx.LinkIdentity(ctx, issuer, subject, u.ID, "", s.Now()); err != nil {
			if store.IsUnique(err) {
				return problem.New(problem.Conflict, "identity_linked", "that identity is already linked to an account")
			}
			return err
		}
		return s.auditBy(ctx, tx, p, "identity_linked", u.Username, map[string]any{"issuer": issuer, "subject": subject})
	})
}

var nonName = regexp.MustCompile(`[^a-z0-9._-]+`)

// freeUsername derives an unused user name from the identity.
func (s *Service) freeUsername(ctx context.Context, tx *store.Tx, id Identity) string {
	base := strings.ToLower(id.Email)
	if at := strings.IndexByte(base, '@'); at > 0 {
		base = base[:at]
	}
	if base == "" {
		base = strings.ToLower(id.Name)
	}
	base = strings.Trim(nonName.ReplaceAllString(base, "-"), "-._")
	if base == "" || len(base) > 50 {
		base = "user"
	}
	name := base
	for i := 2; ; i++ {
		if _, err := tx.UserByName(ctx, name); errors.Is(err, store.ErrNotFound) {
			return name
		}
		name = base + "-" + strconv.Itoa(i)
	}
}
