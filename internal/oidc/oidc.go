// Package oidc signs people in through an OpenID Connect provider: the
// authorization code flow with PKCE (S256), state and nonce checked, the
// ID token verified (signature, issuer, audience, expiry). It is a library:
// the web package serves Begin and Finish and decides what a returned
// Identity may do; nothing here stores anything.
//
// Accounts are linked by (issuer, subject) only, never by e-mail. The
// e-mail address a provider reports is informational: an unverified
// address, or one that changed at the provider, never logs into or merges
// an existing local account, because a provider (or a user of a provider
// that lets people edit their address) can claim any address. An admin
// links an existing account to an identity explicitly; otherwise a first
// sign-in may only create a new account, and only when MayCreate allows it.
package oidc

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// Config configures the provider. Zero values of the optional fields take
// the defaults New documents.
type Config struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL must match the provider's registration exactly, e.g.
	// https://quench.example.com/login/oidc/callback.
	RedirectURL string
	// Scopes default to openid, email, profile; openid is always asked.
	Scopes []string
	// GroupsClaim names the ID token claim carrying group names; default
	// "groups".
	GroupsClaim string
	// DisplayName is the button text ("Sign in with …"); default
	// "single sign-on".
	DisplayName string
	// AllowedDomains and AllowedGroups are the auto-creation policy (see
	// MayCreate). Both empty: nobody gets an account without an admin.
	AllowedDomains, AllowedGroups []string
	// Secure sets the flow cookie's Secure attribute (base URL is https).
	Secure bool
	// HTTPClient talks to the provider; default a client with a 10 s
	// timeout.
	HTTPClient *http.Client

	// now is the clock; tests set a fake one.
	now func() time.Time
}

const (
	// flowCookie carries the state, nonce and PKCE verifier across the
	// trip to the provider. It is MAC'd so nobody can plant their own, and
	// scoped to /login/oidc so no other page ever sees it.
	flowCookie = "quench_oidc"
	flowPath   = "/login/oidc"
	// flowMaxAge bounds a sign-in: long enough to type a password and a
	// second factor, short enough that a stolen callback URL goes stale.
	flowMaxAge = 10 * time.Minute
)

// Provider is a configured OpenID Connect provider. It implements the web
// package's SSO interface and its optional MayCreate policy.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	key      []byte
}

// New discovers the provider at cfg.Issuer. It fails with a message an
// operator can act on when the issuer cannot be reached or its discovery
// document names a different issuer (a trailing slash is enough: the
// issuer is compared exactly, as the ID tokens' iss will be).
func New(ctx context.Context, cfg Config) (*Provider, error) {
	var missing []string
	for _, f := range []struct{ name, v string }{{"issuer", cfg.Issuer}, {"client id", cfg.ClientID},
		{"client secret", cfg.ClientSecret}, {"redirect URL", cfg.RedirectURL}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("oidc: %s required", strings.Join(missing, ", "))
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("oidc: redirect URL %q is not an absolute http(s) URL", cfg.RedirectURL)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "email", "profile"}
	} else if !slices.Contains(cfg.Scopes, gooidc.ScopeOpenID) {
		cfg.Scopes = append([]string{gooidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "single sign-on"
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	d, err := gooidc.NewProvider(gooidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, discoveryError(cfg.Issuer, err)
	}
	// The flow cookie's MAC key is derived from the client secret so that
	// every replica of an instance agrees on it without more configuration,
	// and it is not the secret itself.
	key, err := hkdf.Key(sha256.New, []byte(cfg.ClientSecret), nil, "quench oidc flow cookie", 32)
	if err != nil {
		return nil, fmt.Errorf("oidc: derive flow key: %w", err)
	}
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: d.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes},
		verifier: d.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: cfg.now}),
		key:      key,
	}, nil
}

// discoveryError says what went wrong at start, in words that point at
// the setting to fix; the provider's answer is cut short.
func discoveryError(issuer string, err error) error {
	var mismatch *gooidc.IssuerMismatchError
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &mismatch):
		return fmt.Errorf("oidc: the discovery document at %s names the issuer %q; set the issuer to exactly that", issuer, mismatch.Discovered)
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return fmt.Errorf("oidc: cannot reach the issuer %s: %w", issuer, err)
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return fmt.Errorf("oidc: discovery at %s failed: %s", issuer, msg)
}

// Name is shown on the sign-in button.
func (p *Provider) Name() string { return p.cfg.DisplayName }

// flow is what Begin remembers for Finish, in the flow cookie.
type flow struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Created  time.Time `json:"t"`
}

func (p *Provider) mac(b []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(b)
	return m.Sum(nil)
}

func (p *Provider) setFlowCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: value, Path: flowPath, MaxAge: maxAge,
		HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteLaxMode})
}

// Begin starts a sign-in: it remembers a fresh state, nonce and PKCE
// verifier in the flow cookie and sends the browser to the provider.
// SameSite=Lax lets the cookie ride along on the provider's top-level
// redirect back to the callback and nowhere else cross-site.
func (p *Provider) Begin(w http.ResponseWriter, r *http.Request) {
	f := flow{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Created: p.cfg.now()}
	value, err := p.encode(f)
	if err != nil {
		http.Error(w, "cannot start the sign-in", http.StatusInternalServerError)
		return
	}
	p.setFlowCookie(w, value, int(flowMaxAge.Seconds()))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), gooidc.Nonce(f.Nonce)), http.StatusFound)
}

// fail is a sign-in failure. Messages are safe to show: they never carry
// the code, a token or the client secret, and nothing the provider or the
// browser sent except a cleaned OAuth error code.
func fail(code, format string, args ...any) error {
	return problem.New(problem.Unauthenticated, code, format, args...)
}

// encode turns a flow into the cookie value: payload "." MAC.
func (p *Provider) encode(f flow) (string, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(p.mac(b)), nil
}

func (p *Provider) readFlow(r *http.Request) (*flow, error) {
	c, err := r.Cookie(flowCookie)
	if err != nil || c.Value == "" {
		return nil, fail("sso_no_flow", "the sign-in started in another browser or took too long; start again")
	}
	data, sig, ok := strings.Cut(c.Value, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(data)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(s, p.mac(b)) {
		return nil, fail("sso_bad_flow", "the sign-in could not be checked; start again")
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, fail("sso_bad_flow", "the sign-in could not be checked; start again")
	}
	// The cookie's Max-Age is only advice to the browser; the MAC'd time
	// is what counts. A flow from the future means a clock jump: refuse.
	if age := p.cfg.now().Sub(f.Created); age > flowMaxAge || age < -time.Minute {
		return nil, fail("sso_flow_expired", "the sign-in took too long; start again")
	}
	return &f, nil
}

// Finish completes a sign-in at the callback: the flow cookie is read and
// cleared (a flow is good for one answer), the state compared, the code
// exchanged with the PKCE verifier, the ID token verified and its nonce
// compared. The Identity returned is keyed by (Issuer, Subject); see the
// package documentation for why the e-mail address is not a key.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request) (service.Identity, error) {
	p.setFlowCookie(w, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return service.Identity{}, problem.New(problem.Forbidden, "sso_denied",
				"the identity provider refused the sign-in (access denied); ask your admin for access to Quench there")
		}
		return service.Identity{}, fail("sso_provider_error", "the identity provider reported an error (%s); start again", cleanCode(e))
	}
	f, err := p.readFlow(r)
	if err != nil {
		return service.Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return service.Identity{}, fail("sso_state_mismatch", "the sign-in answer does not belong to this sign-in; start again")
	}
	code := q.Get("code")
	if code == "" {
		return service.Identity{}, fail("sso_no_code", "the identity provider sent no authorization code; start again")
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, p.cfg.HTTPClient)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return service.Identity{}, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return service.Identity{}, fail("sso_no_id_token", "the identity provider sent no ID token; is the openid scope allowed?")
	}
	idt, err := p.verifier.Verify(gooidc.ClientContext(r.Context(), p.cfg.HTTPClient), raw)
	if err != nil {
		return service.Identity{}, fail("sso_bad_token", "the ID token is not valid for this Quench: %s", tokenFault(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return service.Identity{}, fail("sso_nonce_mismatch", "the ID token does not belong to this sign-in (nonce); start again")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return service.Identity{}, fail("sso_bad_token", "the ID token's claims are unreadable")
	}
	id := identity(idt.Issuer, idt.Subject, claims, p.cfg.GroupsClaim)
	if id.Subject == "" {
		return service.Identity{}, fail("sso_bad_token", "the ID token names no subject")
	}
	return id, nil
}

// exchangeError reports a failed code exchange by the OAuth error code
// alone: the provider's description or body may echo the code.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fail("sso_exchange_failed", "the identity provider's token endpoint could not be reached; try again")
	}
	reason := cleanCode(re.ErrorCode)
	if reason == "" && re.Response != nil {
		reason = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
	}
	return fail("sso_exchange_failed", "the identity provider did not accept the sign-in code (%s); start again", reason)
}

// tokenFault names what is wrong with an ID token. go-oidc types only the
// expiry error; the others are recognised by their wording, which only
// refines the message: an unknown wording still fails the sign-in.
func tokenFault(err error) string {
	var expired *gooidc.TokenExpiredError
	if errors.As(err, &expired) {
		return "it has expired"
	}
	msg := err.Error()
	for _, c := range []struct{ marker, fault string }{
		{"expected audience", "it was issued to another application (audience)"},
		{"issued by a different provider", "it was issued by another issuer"},
		{"signature", "its signature does not verify"},
		{"not signed", "its signature does not verify"},
		{"signing algorithm", "its signature does not verify"},
		{"malformed", "it is malformed"},
		{"before the nbf", "it is not valid yet"},
	} {
		if strings.Contains(msg, c.marker) {
			return c.fault
		}
	}
	return "it could not be verified (signature, issuer, audience or expiry)"
}

// identity reads the person out of verified ID token claims.
func identity(issuer, subject string, claims map[string]any, groupsClaim string) service.Identity {
	id := service.Identity{Issuer: issuer, Subject: subject}
	id.Email, _ = claims["email"].(string)
	// Some providers (Cognito, some Azure AD B2C set-ups) send the boolean
	// as a string.
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = strings.EqualFold(v, "true")
	}
	if id.Name, _ = claims["name"].(string); id.Name == "" {
		id.Name, _ = claims["preferred_username"].(string)
	}
	switch g := claims[groupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok && s != "" {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		if g != "" {
			id.Groups = []string{g}
		}
	}
	return id
}

// cleanCode keeps an OAuth error code printable and short: RFC 6749 codes
// are lower-case words joined by underscores.
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

// MayCreate is the auto-creation policy for an identity nobody has linked
// yet: a verified e-mail address whose domain equals an allowed domain
// (the whole domain, ASCII case-insensitively; evil-example.com and
// example.com.evil.net are not example.com, nor are subdomains), or
// membership in an allowed group (exact, case-sensitive). An empty policy
// allows nobody. It only ever creates a new account: an identity whose
// address matches an existing account's is still not linked to it.
func (p *Provider) MayCreate(id service.Identity) bool {
	if id.EmailVerified {
		if at := strings.LastIndexByte(id.Email, '@'); at > 0 && at < len(id.Email)-1 {
			domain := id.Email[at+1:]
			for _, d := range p.cfg.AllowedDomains {
				if d = strings.TrimPrefix(strings.TrimSpace(d), "@"); d != "" && asciiEqualFold(d, domain) {
					return true
				}
			}
		}
	}
	for _, g := range id.Groups {
		if g != "" && slices.Contains(p.cfg.AllowedGroups, g) {
			return true
		}
	}
	return false
}

// asciiEqualFold compares folding ASCII letters only: strings.EqualFold
// would also fold Unicode look-alikes (the Kelvin sign K equals k).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ConfigFromEnv reads the QUENCH_OIDC_* settings:
//
//	QUENCH_OIDC_ISSUER              the issuer URL, exactly as in its discovery document; unset: SSO off
//	QUENCH_OIDC_CLIENT_ID           required with an issuer
//	QUENCH_OIDC_CLIENT_SECRET       required with an issuer (or QUENCH_OIDC_CLIENT_SECRET_FILE, which wins)
//	QUENCH_OIDC_NAME                button text
//	QUENCH_OIDC_ALLOWED_DOMAINS     comma-separated; see MayCreate
//	QUENCH_OIDC_ALLOWED_GROUPS      comma-separated; see MayCreate
//	QUENCH_OIDC_GROUPS_CLAIM        default groups
//	QUENCH_OIDC_SCOPES              comma-separated; default openid,email,profile (Dex wants groups too)
//
// ok is false when no issuer is set (single sign-on off). The redirect URL
// is baseURL + "/login/oidc/callback"; the flow cookie is Secure when
// baseURL is https. Errors name settings, never the secret.
func ConfigFromEnv(getenv func(string) string, baseURL string) (cfg Config, ok bool, err error) {
	cfg.Issuer = strings.TrimSpace(getenv("QUENCH_OIDC_ISSUER"))
	if cfg.Issuer == "" {
		return Config{}, false, nil
	}
	cfg.ClientID, cfg.ClientSecret = strings.TrimSpace(getenv("QUENCH_OIDC_CLIENT_ID")), getenv("QUENCH_OIDC_CLIENT_SECRET")
	if path := getenv("QUENCH_OIDC_CLIENT_SECRET_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, true, fmt.Errorf("QUENCH_OIDC_CLIENT_SECRET_FILE: %w", err)
		}
		cfg.ClientSecret = strings.TrimRight(string(b), "\r\n")
	}
	var missing []string
	if cfg.ClientID == "" {
		missing = append(missing, "QUENCH_OIDC_CLIENT_ID")
	}
	if cfg.ClientSecret == "" {
		missing = append(missing, "QUENCH_OIDC_CLIENT_SECRET (or _FILE)")
	}
	if len(missing) > 0 {
		return cfg, true, fmt.Errorf("QUENCH_OIDC_ISSUER is set, so %s must be set too", strings.Join(missing, " and "))
	}
	list := func(k string) []string {
		var out []string
		for v := range strings.SplitSeq(getenv(k), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	cfg.DisplayName = strings.TrimSpace(getenv("QUENCH_OIDC_NAME"))
	cfg.GroupsClaim = strings.TrimSpace(getenv("QUENCH_OIDC_GROUPS_CLAIM"))
	cfg.AllowedDomains, cfg.AllowedGroups = list("QUENCH_OIDC_ALLOWED_DOMAINS"), list("QUENCH_OIDC_ALLOWED_GROUPS")
	cfg.Scopes = list("QUENCH_OIDC_SCOPES")
	baseURL = strings.TrimRight(baseURL, "/")
	cfg.RedirectURL = baseURL + "/login/oidc/callback"
	cfg.Secure = strings.HasPrefix(baseURL, "https://")
	return cfg, true, nil
}
