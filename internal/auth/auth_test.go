package auth

import (
	"strings"
	"testing"
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
