package alertmanager

import (
	"testing"

	"github.com/quenchhq/quench/internal/intake/internal/intaketest"
)

// FuzzParse feeds mutated webhook bodies to Parse: it must never panic,
// must fail only with an *alert.InvalidError, and every alert it returns
// must already be in the normalized shape the store expects.
func FuzzParse(f *testing.F) {
	intaketest.Fuzz(f, Parse, newerBody,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"\u0000\ud800"},"annotations":{"runbook_url":"javascript:x"}}]}`)
}
