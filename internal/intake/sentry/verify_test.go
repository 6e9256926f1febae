package sentry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestVerify(t *testing.T) {
	const secret = "0f2d9c4a7be14c1e9d3f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
	body := intaketest.Fixture(t, "issue.created.json")
	good := sign(secret, body)
	tampered := append([]byte{}, body...)
	tampered[len(tampered)-3] = ' '

	tests := []struct {
		name, header string
		body         []byte
		wantMsg      string // empty: accepted
	}{
		{"valid", good, body, ""},
		{"valid, padded header", " " + good + "\t", body, ""},
		{"valid, upper-case hex", strings.ToUpper(good), body, ""},
		{"missing", "", body, "missing Sentry-Hook-Signature"},
		{"not hex", "sha256=" + good, body, "not a hex"},
		{"forged", sign("guessed-secret", body), body, "does not match"},
		{"tampered body", good, tampered, "does not match"},
		{"re-serialised body", good, []byte(strings.Join(strings.Fields(string(body)), "")), "does not match"},
		{"truncated", good[:40], body, "does not match"},
		{"empty body signed", sign(secret, nil), body, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			intaketest.Verdict(t, Verify(tt.body, secret, tt.header), tt.wantMsg, secret, sign(secret, tt.body))
		})
	}
}

func TestVerifyNeedsASecret(t *testing.T) {
	intaketest.OurFault(t, Verify([]byte("{}"), "", sign("", []byte("{}"))))
}
