package grafana

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Header names for Grafana's optional HMAC signing (contact point setting
// hmacConfig, Grafana 12+).
//
// Grafana's documentation and settings form name the signature header
// X-Grafana-Alerting-Signature, but grafana/alerting's http/hmac.go falls
// back to X-Grafana-Alert-Signature when the header setting is left blank;
// VerifySignature accepts either so both kinds of setup work.
//
// The timestamp header has no default in Grafana: signing with a timestamp
// only happens when the user names one. Quench expects it to be named
// TimestampHeader; the integration's setup page must say so.
const (
	SignatureHeader          = "X-Grafana-Alerting-Signature"
	FallbackSignatureHeader  = "X-Grafana-Alert-Signature"
	TimestampHeader          = "X-Grafana-Alerting-Timestamp"
	MaxTimestampSkew         = 5 * time.Minute
	signedTimestampSeparator = ":"
)

// VerifySignature checks Grafana's HMAC-SHA256 signature over the raw
// request body, before anything parses it. Grafana sends the lower-case
// hex HMAC of the body keyed with the shared secret; when a timestamp
// header is configured it sends the Unix time in seconds in that header
// and signs timestamp + ":" + body instead. A present timestamp must lie
// within MaxTimestampSkew of now, in either direction, so a captured
// request cannot be replayed later; without one, replay protection rests on
// idempotent ingest alone.
//
// A failed check returns an *alert.InvalidError naming what is wrong but
// never the expected signature; the caller should answer 401. An empty
// secret is a configuration error on our side and returns a plain error.
func VerifySignature(body []byte, secret string, header http.Header, now time.Time) error {
	if secret == "" {
		return errors.New("grafana: no HMAC secret configured for this integration")
	}
	sig := strings.TrimSpace(header.Get(SignatureHeader))
	if sig == "" {
		sig = strings.TrimSpace(header.Get(FallbackSignatureHeader))
	}
	if sig == "" {
		return alert.Invalid("missing %s header", SignatureHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return alert.Invalid("%s: not a hex HMAC-SHA256", SignatureHeader)
	}

	mac := hmac.New(sha256.New, []byte(secret))
	ts := strings.TrimSpace(header.Get(TimestampHeader))
	if ts != "" {
		mac.Write([]byte(ts + signedTimestampSeparator))
	}
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return alert.Invalid("%s does not match the body (check the secret; a timestamp header must be named %s)", SignatureHeader, TimestampHeader)
	}
	if ts != "" {
		return checkTimestamp(ts, now)
	}
	return nil
}

func checkTimestamp(ts string, now time.Time) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return alert.Invalid("%s: not Unix seconds", TimestampHeader)
	}
	age := now.Sub(time.Unix(sec, 0))
	switch {
	case age > MaxTimestampSkew:
		return alert.Invalid("%s: request signed %s ago, more than %s", TimestampHeader, age.Truncate(time.Second), MaxTimestampSkew)
	case age < -MaxTimestampSkew:
		return alert.Invalid("%s: timestamp %s in the future; check the clocks", TimestampHeader, (-age).Truncate(time.Second))
	}
	return nil
}
