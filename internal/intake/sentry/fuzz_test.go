package sentry

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
)

func seeds(f *testing.F) map[string][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	out := map[string][]byte{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		out[file] = b
	}
	return out
}

func checkParse(t *testing.T, resource string, body []byte) {
	alerts, err := Parse(resource, body)
	if err != nil {
		var invalid *alert.InvalidError
		if !errors.As(err, &invalid) {
			t.Fatalf("error %v is not an *alert.InvalidError", err)
		}
		return
	}
	if alerts == nil || len(alerts) > 1 {
		t.Fatalf("got %d alerts (nil: %v); want an empty slice or one alert", len(alerts), alerts == nil)
	}
	for i, a := range alerts {
		if err := alert.CheckNormalized(a); err != nil {
			t.Fatalf("alert %d: %v", i, err)
		}
	}
}

// FuzzParse: no panic, only *alert.InvalidError failures, every alert
// returned already normalized.
func FuzzParse(f *testing.F) {
	for file, body := range seeds(f) {
		f.Add(resourceOf(file), body)
	}
	f.Add("issue", []byte(`{"action":"created","data":{"issue":{"id":12345678901234567890,"web_url":"https://x/\u0000"}}}`))
	f.Fuzz(checkParse)
}

// FuzzVerifyParse runs the request path the HTTP layer will: Verify, then
// Parse only what passed. A signature made with the secret must always
// verify; one made without it must never.
func FuzzVerifyParse(f *testing.F) {
	for file, body := range seeds(f) {
		f.Add(resourceOf(file), body, "secret", true)
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
