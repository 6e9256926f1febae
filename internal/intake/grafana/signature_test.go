package grafana

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// sign does what grafana/alerting's HMACRoundTripper does.
func sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	if timestamp != "" {
		mac.Write([]byte(timestamp + ":"))
	}
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	const secret = "s3cr3t-hmac"
	body := []byte(`{"version":"1","alerts":[]}`)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	old := strconv.FormatInt(now.Add(-5*time.Minute-time.Second).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	almostOld := strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)

	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		wantMsg string // empty: accepted
	}{
		{"body only", map[string]string{SignatureHeader: sign(secret, "", body)}, body, ""},
		{"upper-case hex", map[string]string{SignatureHeader: strings.ToUpper(sign(secret, "", body))}, body, ""},
		{"grafana/alerting's fallback header", map[string]string{FallbackSignatureHeader: sign(secret, "", body)}, body, ""},
		{"with timestamp", map[string]string{SignatureHeader: sign(secret, ts, body), TimestampHeader: ts}, body, ""},
		{"timestamp four minutes old", map[string]string{SignatureHeader: sign(secret, almostOld, body), TimestampHeader: almostOld}, body, ""},
		{"missing", map[string]string{}, body, "missing X-Grafana-Alerting-Signature"},
		{"not hex", map[string]string{SignatureHeader: "sha256=abc"}, body, "not a hex"},
		{"wrong secret", map[string]string{SignatureHeader: sign("other", "", body)}, body, "does not match"},
		{"tampered body", map[string]string{SignatureHeader: sign(secret, "", body)}, []byte(`{"version":"1","alerts":[{}]}`), "does not match"},
		{"timestamp stripped", map[string]string{SignatureHeader: sign(secret, ts, body)}, body, "does not match"},
		{"timestamp changed", map[string]string{SignatureHeader: sign(secret, old, body), TimestampHeader: ts}, body, "does not match"},
		{"replayed", map[string]string{SignatureHeader: sign(secret, old, body), TimestampHeader: old}, body, "more than 5m0s"},
		{"from the future", map[string]string{SignatureHeader: sign(secret, future, body), TimestampHeader: future}, body, "in the future"},
		{"timestamp not a number", map[string]string{SignatureHeader: sign(secret, "soon", body), TimestampHeader: "soon"}, body, "not Unix seconds"},
		{"truncated signature", map[string]string{SignatureHeader: sign(secret, "", body)[:32]}, body, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			intaketest.Verdict(t, VerifySignature(tt.body, secret, h, now), tt.wantMsg, secret, sign(secret, "", tt.body))
		})
	}
}

func TestVerifySignatureNeedsASecret(t *testing.T) {
	h := http.Header{}
	h.Set(SignatureHeader, sign("", "", nil))
	intaketest.OurFault(t, VerifySignature(nil, "", h, time.Now()))
}
