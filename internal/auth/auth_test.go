package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

func TestCan(t *testing.T) {
	responder := &User{Username: "ana", Role: RoleResponder}
	admin := &User{Username: "bo", Role: RoleAdmin}
	tok := func(s ...Scope) *Token { return &Token{Scopes: s} }
	tests := []struct {
		name string
		p    Principal
		a    Action
		want bool
	}{
		{"anonymous reads nothing internal", Anonymous, ReadAll, false},
		{"responder reads", Principal{User: responder}, ReadAll, true},
		{"responder writes", Principal{User: responder}, WriteIncidents, true},
		{"responder does not administer", Principal{User: responder}, Administer, false},
		{"admin administers", Principal{User: admin}, Administer, true},
		{"disabled user nothing", Principal{User: &User{Role: RoleAdmin, Disabled: true}}, ReadAll, false},
		{"read token cannot write", Principal{User: admin, Token: tok(ScopeRead)}, WriteIncidents, false},
		{"write token reads", Principal{User: responder, Token: tok(ScopeWrite)}, ReadAll, true},
		{"ingest token cannot read", Principal{User: admin, Token: tok(ScopeIngest)}, ReadAll, false},
		{"ingest token ingests", Principal{User: responder, Token: tok(ScopeIngest)}, Ingest, true},
		{"admin scope on responder is capped by role", Principal{User: responder, Token: tok(ScopeAdmin)}, Administer, false},
	}
	for _, tt := range tests {
		if got := tt.p.Can(tt.a); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestCheckGrant(t *testing.T) {
	responder := &User{Role: RoleResponder}
	admin := &User{Role: RoleAdmin}
	if err := CheckGrant(Principal{User: admin}, responder, []Scope{ScopeAdmin}); err == nil {
		t.Error("responder got an admin token")
	}
	if err := CheckGrant(Principal{User: admin, Token: &Token{Scopes: []Scope{ScopeAdmin, ScopeRead}}}, admin, []Scope{ScopeWrite}); err == nil {
		t.Error("token minted a scope it lacks")
	}
	if err := CheckGrant(Principal{User: admin}, admin, Scopes); err != nil {
		t.Error(err)
	}
	// Only people and admin-scoped tokens mint tokens, whatever the scope.
	for _, sc := range [][]Scope{{ScopeRead}, {ScopeRead, ScopeWrite, ScopeIngest}} {
		err := CheckGrant(Principal{User: admin, Token: &Token{Scopes: sc}}, admin, []Scope{ScopeRead})
		if p, ok := problem.As(err); !ok || p.Kind != problem.Forbidden || p.Code != "token_cannot_mint" {
			t.Errorf("token with %v minted: %v", sc, err)
		}
	}
	if err := CheckGrant(Principal{User: admin, Token: &Token{Scopes: []Scope{ScopeRead, ScopeAdmin}}}, admin, []Scope{ScopeRead}); err != nil {
		t.Errorf("admin-scoped token refused: %v", err)
	}
	if err := CheckGrant(Principal{User: responder, Session: &Session{}}, responder, []Scope{ScopeRead}); err != nil {
		t.Errorf("signed-in person refused: %v", err)
	}
}

func TestCapExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hour, day := now.Add(time.Hour), now.Add(24*time.Hour)
	tok := func(exp time.Time) Principal { return Principal{Token: &Token{ExpiresAt: exp}} }
	for _, tt := range []struct {
		name      string
		p         Principal
		want, got time.Time
	}{
		{"person, no expiry", Principal{}, time.Time{}, time.Time{}},
		{"person, expiry kept", Principal{}, day, day},
		{"lasting token, no expiry", tok(time.Time{}), time.Time{}, time.Time{}},
		{"expiring token, no expiry asked: the maker's", tok(hour), time.Time{}, hour},
		{"expiring token, longer asked: capped", tok(hour), day, hour},
		{"expiring token, shorter asked: kept", tok(day), hour, hour},
	} {
		if got := CapExpiry(tt.p, tt.want); !got.Equal(tt.got) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.got)
		}
	}
}

func TestParseScopes(t *testing.T) {
	got, err := ParseScopes("write, read,write")
	if err != nil || JoinScopes(got) != "read,write" {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "read,root", " , "} {
		if _, err := ParseScopes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h := Hasher{Memory: 1024, Time: 1, Threads: 1}
	hash := h.Hash("correct horse battery")
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", hash)
	}
	if !VerifyPassword(hash, "correct horse battery") {
		t.Error("right password refused")
	}
	for _, bad := range []string{"correct horse batterY", ""} {
		if VerifyPassword(hash, bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, broken := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", strings.Replace(hash, "m=1024", "m=99999999", 1)} {
		if VerifyPassword(broken, "correct horse battery") {
			t.Errorf("broken hash %q accepted", broken)
		}
	}
}

func TestSecret(t *testing.T) {
	a, b := NewSecret(TokenPrefix), NewSecret(TokenPrefix)
	if a == b || !strings.HasPrefix(a, TokenPrefix) || len(a) < 50 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if HashToken(a) == HashToken(b) || len(HashToken(a)) != 64 {
		t.Fatal("hash")
	}
}

// oldHash was made by the hasher Quench shipped first (RFC 9106's 64 MiB,
// t=3, p=2); accounts created then must still sign in.
const oldHash = "$argon2id$v=19$m=65536,t=3,p=2$bR+B8thAuwyhz1lwFN/Qyw$+oCD//QLfW8s2JGIAUrZyQxb0QESX8IwgQeN/1XUPxk"

func TestOldHashStillVerifies(t *testing.T) {
	if !VerifyPassword(oldHash, "correct horse battery") {
		t.Fatal("a hash with the old parameters no longer verifies")
	}
	if VerifyPassword(oldHash, "correct horse batterY") {
		t.Fatal("wrong password accepted against the old hash")
	}
	if !DefaultHasher.Outdated(oldHash) {
		t.Fatal("the old hash is not marked for re-hashing")
	}
}

func TestDefaultHasherIsAffordable(t *testing.T) {
	// OWASP's argon2id minimum: what one sign-in may cost a small server.
	if DefaultHasher != (Hasher{Memory: 19 << 10, Time: 2, Threads: 1}) {
		t.Fatalf("default parameters %+v", DefaultHasher)
	}
	hash := DefaultHasher.Hash("correct horse battery")
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || DefaultHasher.Outdated(hash) {
		t.Fatalf("new hash %q", hash)
	}
	if !VerifyPassword(hash, "correct horse battery") {
		t.Fatal("new hash does not verify")
	}
	if !(Hasher{Memory: 1024, Time: 1, Threads: 1}).Outdated(hash) || !DefaultHasher.Outdated("garbage") {
		t.Fatal("Outdated misses a difference")
	}
}
