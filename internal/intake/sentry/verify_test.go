package sentry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

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

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name, header string
		wantMsg      string // empty: accepted
	}{
		{"now", "1700000000", ""},
		{"fractions", "1699999999.677", ""},
		{"4m59s old", "1699999701", ""},
		{"4m59s ahead", "1700000299", ""},
		{"6 minutes old", "1699999640", "kept back or sent again"},
		{"6 minutes ahead", "1700000360", "kept back or sent again"},
		{"a day old", "1699913600", "24h0m0s away"},
		{"missing", "", "missing Sentry-Hook-Timestamp"},
		{"not a number", "yesterday", "not a Unix time"},
		{"huge", "1e300", "not a Unix time"},
		{"NaN", "NaN", "not a Unix time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTimestamp(tt.header, now)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			intaketest.Refused(t, err, tt.wantMsg)
		})
	}
}
