// Package oidc signs people in through an OpenID Connect provider: the
// authorization code flow with PKCE, state and nonce checked, the ID token
// verified (signature, issuer, audience, expiry).
//
// Accounts are linked by (issuer, subject) only, never by e-mail: an
// unverified or changed e-mail address never logs into or merges an
// existing local account. New accounts are only created for identities
// the instance's policy allows (a verified address in an allowed domain,
// or an allowed group).
package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/quenchhq/quench/internal/service"
)

// Config configures the provider.
type Config struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL must match the provider's registration exactly.
	RedirectURL string
	Scopes      []string
	// GroupsClaim names the claim carrying group names.
	GroupsClaim string
	// DisplayName is the button text: "Sign in with …".
	DisplayName                   string
	AllowedDomains, AllowedGroups []string
	// Secure sets the flow cookie's Secure attribute.
	Secure     bool
	HTTPClient *http.Client
	// Now is the clock; tests pass a fake one.
	Now func() time.Time
}

// flowCookie carries the state, nonce and PKCE verifier across the trip
// to the provider; it is MAC'd so nobody can plant their own.
const (
	flowCookie = "quench_oidc"
	flowMaxAge = 10 * time.Minute
)

// Provider is a configured OpenID Connect provider.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	key      []byte
}

// New discovers the provider. It fails if the issuer cannot be reached or
// its discovery document names another issuer.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client id, client secret and redirect URL are required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "single sign-on"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s failed: %w", cfg.Issuer, err)
	}
	key := sha256.Sum256([]byte("quench oidc flow\x00" + cfg.ClientSecret))
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes},
		verifier: p.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		key:      key[:],
	}, nil
}

// Name is shown on the sign-in button.
func (p *Provider) Name() string { return p.cfg.DisplayName }

type flow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Created  time.Time `json:"t"`
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) mac(b []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(b)
	return m.Sum(nil)
}

// Begin starts a sign-in: it remembers a fresh state, nonce and PKCE
// verifier in the flow cookie and sends the browser to the provider.
func (p *Provider) Begin(w http.ResponseWriter, r *http.Request) {
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Created: p.cfg.Now()}
	b, _ := json.Marshal(f)
	value := base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(p.mac(b))
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: value, Path: "/login/oidc", HttpOnly: true, Secure: p.cfg.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(flowMaxAge.Seconds())})
	url := p.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), gooidc.Nonce(f.Nonce))
	http.Redirect(w, r, url, http.StatusFound)
}

// Error is a sign-in failure whose message is safe to show.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func failf(format string, args ...any) error { return &Error{msg: fmt.Sprintf(format, args...)} }

func (p *Provider) readFlow(r *http.Request) (*flow, error) {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return nil, failf("the sign-in started elsewhere or took too long; start again")
	}
	data, sig, ok := strings.Cut(c.Value, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(data)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(s, p.mac(b)) {
		return nil, failf("the sign-in could not be checked; start again")
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, failf("the sign-in could not be checked; start again")
	}
	if age := p.cfg.Now().Sub(f.Created); age > flowMaxAge || age < -time.Minute {
		return nil, failf("the sign-in took too long; start again")
	}
	return &f, nil
}

// Finish completes a sign-in at the callback: the flow cookie is read and
// cleared, the state compared, the code exchanged with the PKCE verifier,
// the ID token verified and its nonce compared.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request) (service.Identity, error) {
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: "", Path: "/login/oidc", HttpOnly: true, Secure: p.cfg.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return service.Identity{}, failf("the identity provider refused the sign-in")
		}
		return service.Identity{}, failf("the identity provider reported an error (%s)", cleanCode(e))
	}
	f, err := p.readFlow(r)
	if err != nil {
		return service.Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return service.Identity{}, failf("the sign-in answer does not belong to this sign-in; start again")
	}
	code := q.Get("code")
	if code == "" {
		return service.Identity{}, failf("the identity provider sent no code")
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, p.cfg.HTTPClient)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return service.Identity{}, failf("the identity provider did not accept the sign-in code")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return service.Identity{}, failf("the identity provider sent no ID token")
	}
	idt, err := p.verifier.Verify(gooidc.ClientContext(r.Context(), p.cfg.HTTPClient), raw)
	if err != nil {
		return service.Identity{}, failf("the ID token is not valid for this Quench (signature, issuer, audience or expiry)")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return service.Identity{}, failf("the ID token does not belong to this sign-in")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return service.Identity{}, failf("the ID token's claims are unreadable")
	}
	id := service.Identity{Issuer: idt.Issuer, Subject: idt.Subject}
	id.Email, _ = claims["email"].(string)
	id.EmailVerified, _ = claims["email_verified"].(bool)
	if id.Name, _ = claims["name"].(string); id.Name == "" {
		id.Name, _ = claims["preferred_username"].(string)
	}
	switch g := claims[p.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = []string{g}
	}
	return id, nil
}

// cleanCode keeps a provider's error code printable and short.
func cleanCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r == '_' {
			return r
		}
		return -1
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// MayCreate applies the auto-creation policy to an identity nobody has
// linked yet: a verified e-mail in an allowed domain (the whole domain, not
// a suffix), or membership in an allowed group. An empty policy allows
// nobody.
func (p *Provider) MayCreate(id service.Identity) bool {
	if id.EmailVerified {
		if at := strings.LastIndexByte(id.Email, '@'); at > 0 {
			domain := strings.ToLower(id.Email[at+1:])
			for _, d := range p.cfg.AllowedDomains {
				if strings.EqualFold(strings.TrimSpace(d), domain) {
					return true
				}
			}
		}
	}
	for _, g := range id.Groups {
		if slices.Contains(p.cfg.AllowedGroups, g) {
			return true
		}
	}
	return false
}

// ConfigFromEnv reads the QUENCH_OIDC_* settings; ok is false when no
// issuer is set (single sign-on off).
func ConfigFromEnv(getenv func(string) string, baseURL string) (cfg Config, ok bool, err error) {
	cfg.Issuer = getenv("QUENCH_OIDC_ISSUER")
	if cfg.Issuer == "" {
		return cfg, false, nil
	}
	cfg.ClientID, cfg.ClientSecret = getenv("QUENCH_OIDC_CLIENT_ID"), getenv("QUENCH_OIDC_CLIENT_SECRET")
	if path := getenv("QUENCH_OIDC_CLIENT_SECRET_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, true, fmt.Errorf("QUENCH_OIDC_CLIENT_SECRET_FILE: %w", err)
		}
		cfg.ClientSecret = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return cfg, true, errors.New("QUENCH_OIDC_ISSUER is set: QUENCH_OIDC_CLIENT_ID and QUENCH_OIDC_CLIENT_SECRET are needed too")
	}
	list := func(k string) []string {
		var out []string
		for _, v := range strings.Split(getenv(k), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	cfg.DisplayName, cfg.GroupsClaim = getenv("QUENCH_OIDC_NAME"), getenv("QUENCH_OIDC_GROUPS_CLAIM")
	cfg.AllowedDomains, cfg.AllowedGroups = list("QUENCH_OIDC_ALLOWED_DOMAINS"), list("QUENCH_OIDC_ALLOWED_GROUPS")
	cfg.RedirectURL = strings.TrimRight(baseURL, "/") + "/login/oidc/callback"
	cfg.Secure = strings.HasPrefix(baseURL, "https://")
	return cfg, true, nil
}
