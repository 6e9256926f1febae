package alertmanager

import (
	"encoding/json"
	"reflect"
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

// FuzzDecodeFast checks the fast decoder against encoding/json: whenever
// it takes a body, encoding/json takes it too and decodes the same
// message; whatever it declines is left to encoding/json.
func FuzzDecodeFast(f *testing.F) {
	for _, fx := range intaketest.Fixtures(f) {
		f.Add(fx.Body)
	}
	f.Add(syntheticBody(3))
	f.Add([]byte(newerBody))
	for _, s := range []string{
		`{"version":"4","alerts":[{"status":"firing","labels":{"a":"\u00e9\ud83d\ude00","b":"x\"y\\z\/\b\f\n\r\t"}}]}`,
		`{"Version":"4","alerts":[]}`, `{"version":"4","VERSION":"3"}`, `{"version":"4","version":"3"}`,
		`{"version":"4","alerts":null}`, `{"version":null}`, `{"version":"4","truncatedAlerts":1e2}`,
		`{"version":"4","truncatedAlerts":-0,"x":[1,2.5e-3,true,false,null,{"y":{}}]}`,
		`{"version":"4","alerts":[{"labels":{"a":"1","a":"2"}}]}`, `{"version":"4","ſtatus":1}`,
		"{\"version\":\"4\",\"groupKey\":\"\xff\"}", `{"version":"4"} x`, ` {"version" : "4" } `,
		`{"version":"4","alerts":[{"Status":"firing"}]}`, `{"version":"4","alerts":[{"fingerprint":"\u0000"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast message
		if !decodeFast(body, &fast) {
			return
		}
		var slow message
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("decodeFast took %q, encoding/json refused it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", body, fast, slow)
		}
	})
}
