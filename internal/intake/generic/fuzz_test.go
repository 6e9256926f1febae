package generic

import (
	"testing"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// FuzzParse: no panic, only *alert.InvalidError failures, and every alert
// returned already normalized.
func FuzzParse(f *testing.F) {
	intaketest.Fuzz(f, Parse, `{"labels":{"alertname":"\u0000","\ud800":"x"},"links":[{"url":"https://[::1]/%zz"}]}`)
}
