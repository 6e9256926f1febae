package sentry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

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
// is not signed, so there is no replay window to enforce here.
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
