package store

import (
	"hash/fnv"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
)

// The key computed in place must stay the FNV-1a hash that alert_keys
// holds: keys merged before would no longer be found otherwise.
func TestNameKeyIsFNV1a(t *testing.T) {
	for _, name := range []string{"", "a", recentName("int-1", "0123456789abcdef"), recentName("ü", "\x00\xff")} {
		h := fnv.New64a()
		h.Write([]byte(name))
		if got, want := nameKey(name), int64(h.Sum64()); got != want {
			t.Errorf("nameKey(%q) = %d, want %d", name, got, want)
		}
	}
}

// A key computed ahead by EncodeFor is used only for the integration and
// fingerprint it was computed for.
func TestEncodeForKey(t *testing.T) {
	a := alert.Alert{Fingerprint: "fp1", Labels: map[string]string{"alertname": "A"}}
	e := EncodeFor("in1", &a)
	for _, c := range []struct{ integration, fingerprint string }{{"in1", "fp1"}, {"in2", "fp1"}, {"in1", "fp2"}} {
		r := AlertRow{Record: &alert.Record{Alert: alert.Alert{Fingerprint: c.fingerprint}, IntegrationID: c.integration}, Encoded: e}
		name, k := r.keyName()
		if name != recentName(c.integration, c.fingerprint) || k != alertKey(c.integration, c.fingerprint) {
			t.Errorf("%v: key of %q, want that of %q", c, name, recentName(c.integration, c.fingerprint))
		}
	}
}
