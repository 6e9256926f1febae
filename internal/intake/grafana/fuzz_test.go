package grafana

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
)

// FuzzParse: no panic, only *alert.InvalidError failures, and every alert
// returned already normalized.
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
	f.Add([]byte(`{"version":"1","alerts":[{"status":"resolved","values":{"A":1e308,"B":"x"},"panelURL":"http://[::1]:3000/d/x","imageURL":"data:image/png;base64,AA=="}]}`))

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
