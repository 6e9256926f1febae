// Package oidctest is an OpenID Connect provider tests start in-process: a
// real HTTP server on the loopback interface with discovery, a JWKS, an
// authorize endpoint that signs in the user the test chose (no UI: it
// redirects straight back), and a token endpoint that checks the client
// credentials, the redirect URI, PKCE (S256) and single use of codes, and
// issues RS256-signed ID tokens, optionally tampered with.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is the identity the next authorizations sign in.
type User struct {
	Subject, Email string
	EmailVerified  bool
	Name           string
	Groups         []string
}

// Tamper breaks the ID tokens issued from now on in one way, for negative
// tests. Everything else about the token stays right, so a test sees the
// client refuse it for that one reason.
type Tamper int

const (
	None          Tamper = iota
	WrongAudience        // aud is another client
	WrongNonce           // nonce is not the one the authorization carried
	Expired              // exp an hour ago
	BadSignature         // signed by a key not in the JWKS, under the JWKS key's kid
	WrongIssuer          // iss is another issuer
)

// grant is what an authorization code stands for.
type grant struct {
	user        User
	clientID    string
	redirectURI string
	nonce       string
	challenge   string
}

// Provider is the running test provider.
type Provider struct {
	srv          *httptest.Server
	key, other   *rsa.PrivateKey
	clientID     string
	clientSecret string

	mu     sync.Mutex
	user   User
	tamper Tamper
	codes  map[string]grant
}

const keyID = "k1"

// Start runs a provider for one registered client until the test ends.
// Until SetUser is called it signs in a verified ana@example.com.
func Start(t testing.TB, clientID, clientSecret string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{key: key, other: other, clientID: clientID, clientSecret: clientSecret, codes: map[string]grant{},
		user: User{Subject: "user-1", Email: "ana@example.com", EmailVerified: true, Name: "Ana"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer is the provider's issuer URL (no trailing slash).
func (p *Provider) Issuer() string { return p.srv.URL }

// SetUser chooses who the next authorizations sign in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// Tamper breaks the ID tokens issued from now on; None repairs them.
func (p *Provider) Tamper(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = t
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.srv.URL,
		"authorization_endpoint":                p.srv.URL + "/authorize",
		"token_endpoint":                        p.srv.URL + "/token",
		"jwks_uri":                              p.srv.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &p.key.PublicKey, KeyID: keyID, Algorithm: string(jose.RS256), Use: "sig"}}})
}

// authorize signs the chosen user in at once and sends the browser back.
// Requests it cannot trust get a 400 page, not a redirect, as RFC 6749
// §4.1.2.1 asks for a bad client or redirect URI.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || redirect.Fragment != "" || q.Get("client_id") != p.clientID {
		http.Error(w, "unknown client or bad redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		rq := redirect.Query()
		for k, vs := range v {
			rq[k] = vs
		}
		if s := q.Get("state"); s != "" {
			rq.Set("state", s)
		}
		redirect.RawQuery = rq.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"openid scope missing"}})
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE S256 required"}})
		return
	}
	code := rand.Text()
	p.mu.Lock()
	p.codes[code] = grant{user: p.user, clientID: p.clientID, redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge")}
	p.mu.Unlock()
	back(url.Values{"code": {code}})
}

// clientCredentials reads client_secret_basic (form-encoded before base64,
// RFC 6749 §2.3.1) or client_secret_post.
func clientCredentials(r *http.Request) (id, secret string) {
	if id, secret, ok := r.BasicAuth(); ok {
		uid, err1 := url.QueryUnescape(id)
		usecret, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return "", ""
		}
		return uid, usecret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret := clientCredentials(r)
	if id != p.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.clientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	code := r.PostForm.Get("code")
	p.mu.Lock()
	g, found := p.codes[code]
	delete(p.codes, code) // single use, whatever the outcome
	tamper := p.tamper
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !found:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
		return
	case g.clientID != id || r.PostForm.Get("redirect_uri") != g.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	case subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": p.srv.URL, "sub": g.user.Subject, "aud": g.clientID, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "email": g.user.Email, "email_verified": g.user.EmailVerified,
		"name": g.user.Name, "groups": g.user.Groups}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	key := p.key
	switch tamper {
	case WrongAudience:
		claims["aud"] = "someone-else"
	case WrongNonce:
		claims["nonce"] = "not-the-nonce"
	case Expired:
		claims["iat"] = now.Add(-2 * time.Hour).Unix()
		claims["exp"] = now.Add(-time.Hour).Unix()
	case BadSignature:
		key = p.other
	case WrongIssuer:
		claims["iss"] = "https://evil.example"
	}
	idToken, err := sign(key, claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"id_token": idToken, "scope": "openid email profile"})
}

func sign(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", keyID))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
