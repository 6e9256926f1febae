// Package webhook sends notifications as signed JSON to any HTTP
// endpoint, following the Standard Webhooks specification
// (https://www.standardwebhooks.com/): headers webhook-id,
// webhook-timestamp and webhook-signature, the signature an HMAC-SHA256 of
// "{id}.{timestamp}.{body}" keyed with the channel's secret.
//
// The body is a versioned JSON document described in docs/webhooks.md;
// Payload is its Go form. Delivery is at least once: a retry sends the
// same webhook-id and the same body (only the timestamp, and with it the
// signature, changes), so a receiver deduplicates on webhook-id.
//
// Verify checks a delivery the way a receiver should; Quench's own tests
// use it, and Go receivers may too.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/markdown"
	"github.com/quenchhq/quench/internal/notify"
)

// Header names, as the specification spells them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Version is data.version of the bodies this package sends. It changes
// only when a field changes meaning or goes away; new fields and new
// event types keep it.
const Version = 1

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock, either way, for Verify to accept it.
const DefaultTolerance = 5 * time.Minute

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// Secret sizes in bytes, before base64.
const (
	minSecret = 24
	maxSecret = 64
	newSecret = 32
)

var (
	// ErrSecret is the error for a malformed secret. It never quotes the
	// secret.
	ErrSecret = fmt.Errorf("webhook secret must be %q followed by the base64 of %d to %d random bytes", SecretPrefix, minSecret, maxSecret)
	// ErrMissingHeaders: a delivery without webhook-id,
	// webhook-timestamp or webhook-signature.
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrTimestamp: the timestamp is malformed or outside the
	// tolerance (a replay, or a clock far off).
	ErrTimestamp = errors.New("webhook: timestamp outside the tolerance")
	// ErrSignature: no v1 signature in the header matches.
	ErrSignature = errors.New("webhook: no matching signature")
)

// NewSecret returns a fresh secret: "whsec_" and the base64 of 32 random
// bytes.
func NewSecret() string {
	b := make([]byte, newSecret)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret returns the key inside secret: whsec_ followed by standard
// base64 (padding optional) of 24 to 64 bytes.
func ParseSecret(secret string) ([]byte, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(secret), SecretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(key) < minSecret || len(key) > maxSecret {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value for one delivery:
// "v1," and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}".
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp.Unix(), 10), body)), nil
}

func mac(key []byte, id, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery: the headers are present, the timestamp is
// within tolerance of now (DefaultTolerance when tolerance <= 0), and one
// of the space-separated signatures is a v1 signature of id, timestamp
// and body under secret (several appear while a secret is rotated). body
// must be the raw bytes received, not re-encoded JSON. Errors name what
// failed, never the secret.
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}

// Payload is the body of every delivery (docs/webhooks.md).
type Payload struct {
	// Type is the event, e.g. "incident.phase_changed".
	Type notify.Event `json:"type"`
	// Timestamp is when the event happened, not when it was sent.
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is what happened. Every field is always present; a string that
// does not apply is "".
type Data struct {
	Version int `json:"version"`
	// ID equals the webhook-id header: the same on every attempt.
	ID       string   `json:"id"`
	Incident Incident `json:"incident"`
	// Headline is one line for people: "#12 moved to mitigated".
	Headline string `json:"headline"`
	// Body is the Markdown a person wrote (note, update, reason);
	// BodyText the same as plain text.
	Body     string `json:"body"`
	BodyText string `json:"body_text"`
	// From and To are the phases of a transition or reopen.
	From string `json:"from"`
	To   string `json:"to"`
	// Actor is who caused the event; "" when Quench did (nudges, alerts).
	Actor string `json:"actor"`
}

// Incident is the incident as it was when the event happened.
type Incident struct {
	Number     int64     `json:"number"`
	Title      string    `json:"title"`
	Phase      string    `json:"phase"`
	Severity   string    `json:"severity"`
	Services   []string  `json:"services"`
	Visibility string    `json:"visibility"`
	Owner      string    `json:"owner"`
	URL        string    `json:"url"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewPayload returns the payload for m.
func NewPayload(m notify.Message) Payload {
	inc := m.Incident
	services := append([]string{}, inc.Services...)
	return Payload{
		Type:      m.Event,
		Timestamp: m.At.UTC(),
		Data: Data{
			Version: Version,
			ID:      m.ID,
			Incident: Incident{
				Number:     inc.Number,
				Title:      inc.Title,
				Phase:      inc.Phase,
				Severity:   inc.Severity,
				Services:   services,
				Visibility: inc.Visibility,
				Owner:      inc.Owner,
				URL:        inc.URL,
				CreatedAt:  inc.CreatedAt.UTC(),
			},
			Headline: m.Headline,
			Body:     m.Body,
			BodyText: markdown.Text(m.Body),
			From:     m.From,
			To:       m.To,
			Actor:    m.Actor,
		},
	}
}

// Encode returns the body sent for m: the same bytes on every attempt.
func Encode(m notify.Message) ([]byte, error) {
	return json.Marshal(NewPayload(m))
}

// Notifier delivers to one endpoint.
type Notifier struct {
	url    string
	key    []byte
	client *http.Client
	now    func() time.Time
}

// New returns a notifier for url signing with secret. client should come
// from notify.Guard.Client; nil uses a guard with no allowlist and a
// 10 second timeout.
func New(url, secret string, client *http.Client) (*Notifier, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	if client == nil {
		g, _ := notify.NewGuard(nil)
		client = g.Client(10 * time.Second)
	}
	return &Notifier{url: url, key: key, client: client, now: time.Now}, nil
}

// String names the endpoint by host only, and never shows the secret.
func (n *Notifier) String() string   { return "webhook " + notify.RedactURL(n.url) }
func (n *Notifier) GoString() string { return n.String() }

// Notify delivers m. 2xx is done; 408, 429 and 5xx are retried
// (honouring Retry-After); 410 Gone and every other answer fail at once.
// A message whose ID could not be a webhook-id fails at once too.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if err := checkID(m.ID); err != nil {
		return false, err
	}
	body, err := Encode(m)
	if err != nil {
		return false, fmt.Errorf("webhook: encoding message: %w", err)
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	// The names go on the wire in lower case, exactly as the
	// specification writes them.
	h := http.Header{
		HeaderID:        {m.ID},
		HeaderTimestamp: {ts},
		HeaderSignature: {"v1," + base64.StdEncoding.EncodeToString(mac(n.key, m.ID, ts, body))},
	}
	return notify.Post(ctx, n.client, n.url, "application/json", h, body)
}

// checkID refuses IDs that would make the signed content ambiguous or
// the header malformed: the specification asks for no "." in an ID.
func checkID(id string) error {
	if id == "" || len(id) > 255 {
		return errors.New("webhook: message ID must be 1 to 255 characters")
	}
	if i := strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '.' || r == ',' }); i >= 0 {
		return fmt.Errorf("webhook: message ID %q holds %q", id, id[i])
	}
	return nil
}

var _ notify.Notifier = (*Notifier)(nil)
