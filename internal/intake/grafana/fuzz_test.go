package grafana

import (
	"testing"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// FuzzParse: no panic, only *alert.InvalidError failures, and every alert
// returned already normalized.
func FuzzParse(f *testing.F) {
	intaketest.Fuzz(f, Parse, `{"version":"1","alerts":[{"status":"resolved","values":{"A":1e308,"B":"x"},"panelURL":"http://[::1]:3000/d/x","imageURL":"data:image/png;base64,AA=="}]}`)
}
