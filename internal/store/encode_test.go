package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/quenchhq/quench/internal/alert"
)

// The hand-written JSON of an alert's columns reads back, with
// encoding/json, to the values written, whatever bytes they hold.
func TestEncodeReadsBack(t *testing.T) {
	odd := "quote \" backslash \\ newline \n tab \t cr \r bell \a nul \x00 del \x7f <html> & ümlaut ✓ \u2028 bad \xff\xfe end"
	tests := []alert.Alert{
		{},
		{Labels: map[string]string{}, Annotations: map[string]string{}, Links: []alert.Link{}},
		{Labels: map[string]string{"alertname": "DiskFull", "z": "last", "a": "first", odd: odd},
			Annotations: map[string]string{"summary": odd, "": "empty name"},
			Links:       []alert.Link{{Kind: "runbook", URL: "https://x.example/?a=1&b=<2>"}, {Kind: "other", URL: "https://y.example", Title: odd}}},
	}
	for i, a := range tests {
		e := Encode(&a)
		var labels, annotations map[string]string
		var links []alert.Link
		for _, f := range []struct {
			s string
			v any
		}{{e.labels, &labels}, {e.annotations, &annotations}, {e.links, &links}} {
			if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
				t.Fatalf("case %d: %q: %v", i, f.s, err)
			}
		}
		// What encoding/json itself would have stored reads back the same.
		want := func(v any, empty any) any {
			b, _ := json.Marshal(v)
			out := reflect.New(reflect.TypeOf(empty)).Interface()
			json.Unmarshal(b, out)
			return reflect.ValueOf(out).Elem().Interface()
		}
		if w := want(nonNilMap(a.Labels), map[string]string{}); !reflect.DeepEqual(labels, w) {
			t.Errorf("case %d labels: %v, want %v", i, labels, w)
		}
		if w := want(nonNilMap(a.Annotations), map[string]string{}); !reflect.DeepEqual(annotations, w) {
			t.Errorf("case %d annotations: %v, want %v", i, annotations, w)
		}
		l := a.Links
		if l == nil {
			l = []alert.Link{}
		}
		if w := want(l, []alert.Link{}); !reflect.DeepEqual(links, w) {
			t.Errorf("case %d links: %v, want %v", i, links, w)
		}
	}
}
