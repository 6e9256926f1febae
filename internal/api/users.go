package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// UserJSON is an account of API v1; the password hash never leaves.
type UserJSON struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Role        auth.Role `json:"role"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
}

func userJSON(u *auth.User) UserJSON {
	return UserJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: u.Role,
		Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC()}
}

// TokenJSON describes a token; its secret appears only in the create answer.
type TokenJSON struct {
	ID         int64        `json:"id"`
	User       string       `json:"user"`
	Name       string       `json:"name"`
	Scopes     []auth.Scope `json:"scopes"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  *time.Time   `json:"expires_at,omitempty"`
	LastUsedAt *time.Time   `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time   `json:"revoked_at,omitempty"`
	Token      string       `json:"token,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func tokenJSON(t *auth.Token) TokenJSON {
	return TokenJSON{ID: t.ID, User: t.Username, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt), RevokedAt: optTime(t.RevokedAt)}
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	if p.IsAnonymous() {
		return http.StatusOK, map[string]any{"user": nil, "role": "viewer"}, nil
	}
	body := map[string]any{"user": userJSON(p.User), "role": p.User.Role}
	if p.Token != nil {
		body["token"] = tokenJSON(p.Token)
	}
	return http.StatusOK, body, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Users(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"users": mapAll(list, userJSON)}, nil
}

type createUserRequest struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Role        auth.Role `json:"role"`
	Password    string    `json:"password"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createUserRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	u, err := a.svc.CreateUser(r.Context(), p, service.NewUser{Username: req.Username, DisplayName: req.DisplayName,
		Email: req.Email, Role: req.Role, Password: req.Password})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, userJSON(u), nil
}

type patchUserRequest struct {
	DisplayName *string    `json:"display_name"`
	Email       *string    `json:"email"`
	Role        *auth.Role `json:"role"`
	Disabled    *bool      `json:"disabled"`
	Password    *string    `json:"password"`
	// RevokeTokens (default true) says whether a password reset also
	// revokes the user's API tokens.
	RevokeTokens *bool `json:"revoke_tokens"`
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[patchUserRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	u, err := a.svc.UpdateUser(r.Context(), p, r.PathValue("username"), service.UserPatch{DisplayName: req.DisplayName,
		Email: req.Email, Role: req.Role, Disabled: req.Disabled, Password: req.Password,
		KeepTokens: req.RevokeTokens != nil && !*req.RevokeTokens})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, userJSON(u), nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Tokens(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"tokens": mapAll(list, tokenJSON)}, nil
}

type createTokenRequest struct {
	User      string   `json:"user"`
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresIn string   `json:"expires_in"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createTokenRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	scopes, err := auth.ParseScopes(strings.Join(req.Scopes, ","))
	if err != nil {
		return 0, nil, err
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 {
			return 0, nil, problem.Unprocessablef("expires_in must be a positive duration like 720h")
		}
	}
	secret, tk, err := a.svc.CreateToken(r.Context(), p, service.NewToken{Username: req.User, Name: req.Name, Scopes: scopes, TTL: ttl})
	if err != nil {
		return 0, nil, err
	}
	j := tokenJSON(tk)
	j.Token = secret
	return http.StatusCreated, j, nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.RevokeToken(r.Context(), p, id)
}
