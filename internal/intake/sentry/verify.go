package sentry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Headers of an integration-platform webhook request. ResourceHeader is
// Parse's first argument; RequestIDHeader is unique per delivery and the
// natural idempotency key for the HTTP layer.
const (
	SignatureHeader = "Sentry-Hook-Signature"
	ResourceHeader  = "Sentry-Hook-Resource"
	TimestampHeader = "Sentry-Hook-Timestamp"
	RequestIDHeader = "Request-ID"
)

// Verify checks the Sentry-Hook-Signature header value: the lower-case hex
// HMAC-SHA256 of the raw request body keyed with the integration's client
// secret. It must run on the bytes as received, before any parsing; Sentry
// signs exactly the string it sends, and re-serialising the JSON (as
// Sentry's own samples do) only matches by accident. Sentry-Hook-Timestamp
// is not signed: CheckTimestamp refuses a delivery kept back, and the
// caller refuses a body it has seen before.
//
// A failed check returns an *alert.InvalidError that never contains the
// expected signature; the caller should answer 401. An empty secret is our
// misconfiguration and returns a plain error.
func Verify(body []byte, secret, signatureHeader string) error {
	if secret == "" {
		return errors.New("sentry: no client secret configured for this integration")
	}
	sig := strings.TrimSpace(signatureHeader)
	if sig == "" {
		return alert.Invalid("missing %s header", SignatureHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return alert.Invalid("%s: not a hex HMAC-SHA256", SignatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return alert.Invalid("%s does not match the body (check the client secret)", SignatureHeader)
	}
	return nil
}

// MaxSkew is how far a delivery's Sentry-Hook-Timestamp may be from now.
const MaxSkew = 5 * time.Minute

// CheckTimestamp checks the Sentry-Hook-Timestamp header value (Unix
// seconds, fractions allowed): a delivery sent more than MaxSkew before or
// after now is refused, so a captured one cannot be sent again later. The
// error is an *alert.InvalidError whose text can be sent back.
func CheckTimestamp(header string, now time.Time) error {
	v := strings.TrimSpace(header)
	if v == "" {
		return alert.Invalid("missing %s header", TimestampHeader)
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || math.Abs(secs) > 1e12 {
		return alert.Invalid("%s: not a Unix time in seconds", TimestampHeader)
	}
	whole := math.Floor(secs)
	at := time.Unix(int64(whole), int64((secs-whole)*1e9))
	if d := now.Sub(at).Abs(); d > MaxSkew {
		return alert.Invalid("%s is %s away from now (more than %s): a delivery kept back or sent again", TimestampHeader,
			d.Round(time.Second), MaxSkew)
	}
	return nil
}
