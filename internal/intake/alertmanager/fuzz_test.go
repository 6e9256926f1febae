package alertmanager

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
)

// FuzzParse feeds mutated webhook bodies to Parse: it must never panic,
// must fail only with an *alert.InvalidError, and every alert it returns
// must already be in the normalized shape the store expects.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(newerBody))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"\u0000\ud800"},"annotations":{"runbook_url":"javascript:x"}}]}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := Parse(body)
		if err != nil {
			var invalid *alert.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v is not an *alert.InvalidError", err)
			}
			return
		}
		for i, a := range alerts {
			if err := alert.CheckNormalized(a); err != nil {
				t.Fatalf("alert %d: %v", i, err)
			}
		}
	})
}
