package oidctest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/quenchhq/quench/internal/testenv/oidctest"
)

const (
	clientID = "quench"
	secret   = "s3cret/+&=%"
	redirect = "http://127.0.0.1:9/login/oidc/callback"
	verifier = "verifier-verifier-verifier-verifier-verifier-1"
)

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize returns the provider's redirect back to the client.
func authorize(t *testing.T, p *oidctest.Provider, q url.Values) *url.URL {
	t.Helper()
	v := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid email"},
		"state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
	for k, vs := range q {
		v[k] = vs
	}
	resp, err := noFollow.Get(p.Issuer() + "/authorize?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type tokenAnswer struct {
	Status      int
	Error       string `json:"error"`
	Description string `json:"error_description"`
	IDToken     string `json:"id_token"`
	AccessToken string `json:"access_token"`
}

func exchange(t *testing.T, p *oidctest.Provider, form url.Values, basic bool, id, sec string) tokenAnswer {
	t.Helper()
	if !basic {
		form.Set("client_id", id)
		form.Set("client_secret", sec)
	}
	req, _ := http.NewRequest("POST", p.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	a.Status = resp.StatusCode
	return a
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

// claims verifies an ID token against the provider's JWKS and decodes it.
func claims(t *testing.T, p *oidctest.Provider, raw string) (map[string]any, error) {
	t.Helper()
	resp, err := http.Get(p.Issuer() + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %d", err, len(set.Keys))
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if jws.Signatures[0].Header.KeyID != set.Keys[0].KeyID {
		t.Fatalf("kid %q", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(set.Keys[0].Key)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	return c, json.Unmarshal(payload, &c)
}

func TestDiscovery(t *testing.T) {
	p := oidctest.Start(t, clientID, secret)
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("issuer %s", p.Issuer())
	}
	resp, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	if d["issuer"] != p.Issuer() || d["token_endpoint"] != p.Issuer()+"/token" || d["jwks_uri"] != p.Issuer()+"/jwks" ||
		d["authorization_endpoint"] != p.Issuer()+"/authorize" {
		t.Fatalf("discovery %v", d)
	}
}

func TestCodeFlow(t *testing.T) {
	p := oidctest.Start(t, clientID, secret)
	p.SetUser(oidctest.User{Subject: "s-1", Email: "ana@example.com", EmailVerified: true, Name: "Ana", Groups: []string{"sre"}})
	for _, basic := range []bool{true, false} {
		back := authorize(t, p, nil)
		if back == nil || back.Query().Get("state") != "st" || back.Query().Get("code") == "" ||
			back.Scheme+"://"+back.Host+back.Path != redirect {
			t.Fatalf("redirect back %v", back)
		}
		code := back.Query().Get("code")
		a := exchange(t, p, codeForm(code), basic, clientID, secret)
		if a.Status != 200 || a.IDToken == "" || a.AccessToken == "" || strings.Contains(a.AccessToken, code) {
			t.Fatalf("basic=%v: %+v", basic, a)
		}
		c, err := claims(t, p, a.IDToken)
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := c["exp"].(float64)
		if c["iss"] != p.Issuer() || c["sub"] != "s-1" || c["aud"] != clientID || c["nonce"] != "nn" || c["email"] != "ana@example.com" ||
			c["email_verified"] != true || c["name"] != "Ana" || c["groups"].([]any)[0] != "sre" || time.Unix(int64(exp), 0).Before(time.Now()) {
			t.Fatalf("claims %v", c)
		}
		// A code is good once.
		if a := exchange(t, p, codeForm(code), basic, clientID, secret); a.Status != 400 || a.Error != "invalid_grant" {
			t.Fatalf("replay: %+v", a)
		}
	}
}

func TestTokenRefusals(t *testing.T) {
	p := oidctest.Start(t, clientID, secret)
	code := func() string { return authorize(t, p, nil).Query().Get("code") }
	for _, c := range []struct {
		name   string
		form   func() url.Values
		id     string
		secret string
		status int
		error  string
		says   string
	}{
		{"wrong secret", func() url.Values { return codeForm(code()) }, clientID, "nope", 401, "invalid_client", ""},
		{"wrong client", func() url.Values { return codeForm(code()) }, "other", secret, 401, "invalid_client", ""},
		{"unknown code", func() url.Values { return codeForm("made-up") }, clientID, secret, 400, "invalid_grant", ""},
		{"other redirect_uri", func() url.Values {
			f := codeForm(code())
			f.Set("redirect_uri", redirect+"/")
			return f
		}, clientID, secret, 400, "invalid_grant", "redirect_uri"},
		{"PKCE mismatch", func() url.Values {
			f := codeForm(code())
			f.Set("code_verifier", verifier+"x")
			return f
		}, clientID, secret, 400, "invalid_grant", "PKCE"},
		{"PKCE verifier missing", func() url.Values {
			f := codeForm(code())
			f.Del("code_verifier")
			return f
		}, clientID, secret, 400, "invalid_grant", "PKCE"},
		{"other grant", func() url.Values {
			f := codeForm(code())
			f.Set("grant_type", "password")
			return f
		}, clientID, secret, 400, "unsupported_grant_type", ""},
	} {
		for _, basic := range []bool{true, false} {
			a := exchange(t, p, c.form(), basic, c.id, c.secret)
			if a.Status != c.status || a.Error != c.error || !strings.Contains(a.Description, c.says) || a.IDToken != "" {
				t.Errorf("%s (basic=%v): %+v", c.name, basic, a)
			}
		}
	}
	// A failed exchange spends the code too.
	cd := code()
	f := codeForm(cd)
	f.Set("code_verifier", "wrong")
	exchange(t, p, f, true, clientID, secret)
	if a := exchange(t, p, codeForm(cd), true, clientID, secret); a.Error != "invalid_grant" {
		t.Fatalf("code survived a failed exchange: %+v", a)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	p := oidctest.Start(t, clientID, secret)
	// Untrusted client or redirect: no redirect at all.
	for _, q := range []url.Values{{"client_id": {"other"}}, {"redirect_uri": {"/relative"}}} {
		if back := authorize(t, p, q); back != nil {
			t.Errorf("%v: redirected to %v", q, back)
		}
	}
	// A bad request from a known client: an error back to the client.
	for _, c := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{url.Values{"scope": {"email"}}, "invalid_scope"},
		{url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		{url.Values{"code_challenge": {""}}, "invalid_request"},
	} {
		back := authorize(t, p, c.q)
		if back == nil || back.Query().Get("error") != c.want || back.Query().Get("code") != "" || back.Query().Get("state") != "st" {
			t.Errorf("%v: %v", c.q, back)
		}
	}
}

func TestTamper(t *testing.T) {
	p := oidctest.Start(t, clientID, secret)
	token := func(tm oidctest.Tamper) (map[string]any, error) {
		p.Tamper(tm)
		a := exchange(t, p, codeForm(authorize(t, p, nil).Query().Get("code")), true, clientID, secret)
		if a.IDToken == "" {
			t.Fatalf("%v: %+v", tm, a)
		}
		return claims(t, p, a.IDToken)
	}
	check := func(name string, ok bool) {
		if !ok {
			t.Errorf("tamper %s did not do its one thing", name)
		}
	}
	c, err := token(oidctest.WrongAudience)
	check("audience", err == nil && c["aud"] != clientID && c["iss"] == p.Issuer() && c["nonce"] == "nn")
	c, err = token(oidctest.WrongNonce)
	check("nonce", err == nil && c["nonce"] != "nn" && c["aud"] == clientID)
	c, err = token(oidctest.Expired)
	exp, _ := c["exp"].(float64)
	check("expired", err == nil && time.Unix(int64(exp), 0).Before(time.Now()) && c["aud"] == clientID)
	_, err = token(oidctest.BadSignature)
	check("signature", err != nil)
	c, err = token(oidctest.WrongIssuer)
	check("issuer", err == nil && c["iss"] != p.Issuer() && c["aud"] == clientID)
	c, err = token(oidctest.None)
	check("none", err == nil && c["iss"] == p.Issuer() && c["aud"] == clientID && c["nonce"] == "nn")
}
