package sentry

import (
	"testing"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// checkParse holds Parse to what every adapter promises, and to Sentry's
// own: one webhook is one alert, or none for resources that carry none.
func checkParse(t *testing.T, resource string, body []byte) {
	alerts, err := Parse(resource, body)
	intaketest.Parsed(t, alerts, err)
	if err == nil && (alerts == nil || len(alerts) > 1) {
		t.Fatalf("got %d alerts (nil: %v); want an empty slice or one alert", len(alerts), alerts == nil)
	}
}

// FuzzParse: no panic, only *alert.InvalidError failures, every alert
// returned already normalized.
func FuzzParse(f *testing.F) {
	for _, file := range intaketest.Fixtures(f) {
		f.Add(resourceOf(file.Name), file.Body)
	}
	f.Add("issue", []byte(`{"action":"created","data":{"issue":{"id":12345678901234567890,"web_url":"https://x/\u0000"}}}`))
	f.Fuzz(checkParse)
}

// FuzzVerifyParse runs the request path the HTTP layer will: Verify, then
// Parse only what passed. A signature made with the secret must always
// verify; one made without it must never.
func FuzzVerifyParse(f *testing.F) {
	for _, file := range intaketest.Fixtures(f) {
		f.Add(resourceOf(file.Name), file.Body, "secret", true)
	}
	f.Fuzz(func(t *testing.T, resource string, body []byte, secret string, signed bool) {
		if secret == "" {
			return
		}
		header := "00"
		if signed {
			header = sign(secret, body)
		}
		err := Verify(body, secret, header)
		if signed != (err == nil) {
			t.Fatalf("signed=%v but Verify = %v", signed, err)
		}
		if err == nil {
			checkParse(t, resource, body)
		}
	})
}
