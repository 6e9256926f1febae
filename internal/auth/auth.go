// Package auth decides who may do what. People act through roles
// (responder, admin); machines and the CLI act through tokens whose scopes
// can only narrow what their owner may do. Anonymous visitors are viewers.
package auth

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

// Role of a user account. Viewers are anonymous and have no account.
type Role string

const (
	RoleResponder Role = "responder"
	RoleAdmin     Role = "admin"
)

// ParseRole checks a role name. Viewer is a role people have, but not an
// account's: whoever is not signed in is one, so it is refused with why.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleResponder, RoleAdmin:
		return r, nil
	case "viewer":
		return "", problem.Unprocessablef("no account has role viewer: viewers are anonymous visitors and need no account; want responder or admin")
	}
	return "", problem.Unprocessablef("unknown role %q: want responder or admin", s)
}

// Scope limits what a token may do.
type Scope string

const (
	ScopeRead   Scope = "read"
	ScopeWrite  Scope = "write"
	ScopeIngest Scope = "ingest"
	ScopeAdmin  Scope = "admin"
)

// Scopes lists every scope in a stable order.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeIngest, ScopeAdmin}

// ParseScopes reads a comma-separated scope list.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		sc := Scope(f)
		if !slices.Contains(Scopes, sc) {
			return nil, problem.Unprocessablef("unknown scope %q: want read, write, ingest or admin", f)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, problem.Unprocessablef("a token needs at least one scope")
	}
	slices.SortFunc(out, func(a, b Scope) int { return slices.Index(Scopes, a) - slices.Index(Scopes, b) })
	return out, nil
}

// JoinScopes is the stored form of a scope list.
func JoinScopes(sc []Scope) string {
	s := make([]string, len(sc))
	for i, v := range sc {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

// User is a person's account.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	Email        string
	Role         Role
	Disabled     bool
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckUsername returns name trimmed and in lower case, or why no account
// can have it. One rule for the API, the CLI and QUENCH_ADMIN_USER, so
// `quench config check` refuses the names account creation would.
func CheckUsername(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !usernameRE.MatchString(name) {
		return name, errors.New("user name must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	return name, nil
}

// Name is what the UI shows for the user.
func (u *User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Username
}

// Token is an API credential; only its hash is stored.
type Token struct {
	ID         int64
	UserID     int64
	Username   string
	Name       string
	Scopes     []Scope
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Usable reports whether the token may authenticate at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Session is a person's login in a browser; only the hash of its cookie
// secret is stored.
type Session struct {
	ID         string // public handle
	UserID     int64
	Username   string
	CSRF       string // per-session form token
	Via        string // "password" or "oidc"
	UserAgent  string
	Remote     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
}

// Usable reports whether the session may authenticate at now.
func (s *Session) Usable(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// AuditEntry records a security-relevant act: sign-ins, failures, token
// and role changes.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Remote string
	Detail map[string]any
}

// Action is something a principal may be allowed to do.
type Action int

const (
	// ReadAll sees internal updates, confidential incidents and alerts.
	ReadAll Action = iota + 1
	// WriteIncidents opens and changes incidents.
	WriteIncidents
	// Ingest posts alerts.
	Ingest
	// Administer manages users, tokens, integrations and settings.
	Administer
)

// Principal is whoever makes a request.
type Principal struct {
	User *User // nil for anonymous viewers and integrations
	// Token is set when the request carries an API token; its scopes then
	// narrow what the user's role allows.
	Token *Token
	// Session is set when a browser session authenticated the request.
	Session *Session
	// Remote is the client address, for the audit log.
	Remote string
}

// Anonymous is a viewer without an account.
var Anonymous = Principal{}

// IsAnonymous reports whether nobody is logged in.
func (p Principal) IsAnonymous() bool { return p.User == nil }

// Name is the actor name recorded in the timeline.
func (p Principal) Name() string {
	if p.User == nil {
		return ""
	}
	return p.User.Username
}

// Can reports whether the principal may perform a.
func (p Principal) Can(a Action) bool {
	if p.User == nil || p.User.Disabled {
		return false
	}
	if !roleAllows(p.User.Role, a) {
		return false
	}
	if p.Token == nil {
		return a != Ingest || p.User.Role == RoleAdmin
	}
	return scopesAllow(p.Token.Scopes, a)
}

func roleAllows(r Role, a Action) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleResponder:
		return a != Administer
	}
	return false
}

// scopesAllow: write and admin tokens may read what they change; ingest
// tokens reach only the intake endpoints.
func scopesAllow(sc []Scope, a Action) bool {
	has := func(s Scope) bool { return slices.Contains(sc, s) }
	switch a {
	case ReadAll:
		return has(ScopeRead) || has(ScopeWrite) || has(ScopeAdmin)
	case WriteIncidents:
		return has(ScopeWrite)
	case Ingest:
		return has(ScopeIngest)
	case Administer:
		return has(ScopeAdmin)
	}
	return false
}

// MaxScopes is the set of scopes a user of role r may hold on a token.
func MaxScopes(r Role) []Scope {
	if r == RoleAdmin {
		return Scopes
	}
	return []Scope{ScopeRead, ScopeWrite, ScopeIngest}
}

// CheckGrant refuses to mint a token with a scope the granter lacks, so no
// token can create a more powerful one. Only a person (a browser session,
// or the operator at the command line) or a token with the admin scope
// mints tokens at all: a leaked read token must not turn itself into a
// lasting credential.
func CheckGrant(granter Principal, owner *User, want []Scope) error {
	if granter.Token != nil && !slices.Contains(granter.Token.Scopes, ScopeAdmin) {
		return problem.New(problem.Forbidden, "token_cannot_mint",
			"only a signed-in person or a token with the admin scope may create tokens")
	}
	for _, s := range want {
		if !slices.Contains(MaxScopes(owner.Role), s) {
			return problem.New(problem.Forbidden, "scope_not_allowed", "a %s cannot hold a token with scope %s", owner.Role, s)
		}
		if granter.Token != nil && !slices.Contains(granter.Token.Scopes, s) {
			return problem.New(problem.Forbidden, "scope_not_allowed", "this token cannot grant scope %s it does not have", s)
		}
	}
	return nil
}

// CapExpiry is the expiry of a token granter mints when want was asked for
// (zero: never): a token made by a token never outlives its maker.
func CapExpiry(granter Principal, want time.Time) time.Time {
	if granter.Token == nil || granter.Token.ExpiresAt.IsZero() {
		return want
	}
	if want.IsZero() || want.After(granter.Token.ExpiresAt) {
		return granter.Token.ExpiresAt
	}
	return want
}
