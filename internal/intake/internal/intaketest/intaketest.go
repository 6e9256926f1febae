// Package intaketest is the test scaffolding the intake adapters share:
// the payloads captured from real senders in each package's testdata/,
// the comparison of what an adapter parsed with what the sender meant, and
// the promises every adapter's fuzzer holds it to. Only tests import it.
package intaketest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Fixture reads testdata/name of the package under test.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// File is a captured payload.
type File struct {
	Name string // base name, e.g. "issue.created.json"
	Body []byte
}

// Fixtures reads every testdata/*.json of the package under test, in name
// order: the payloads of the golden tests and the fuzzers' seed corpus.
func Fixtures(t testing.TB) []File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata/*.json: %v", err)
	}
	out := make([]File, len(names))
	for i, name := range names {
		out[i] = File{Name: filepath.Base(name), Body: Fixture(t, filepath.Base(name))}
	}
	return out
}

// At parses an RFC 3339 time into UTC, as adapters return times; a typo in
// a test table panics.
func At(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Golden parses each captured payload named in want and compares the
// result with the alerts it must become, to the last field; every alert
// must be normalized and pass each of checks. An empty want needs an
// empty, non-nil result. A payload in testdata/ that want does not name
// fails: a captured payload nobody checks proves nothing.
func Golden(t *testing.T, want map[string][]alert.Alert, parse func(file string, body []byte) ([]alert.Alert, error),
	checks ...func(t testing.TB, a alert.Alert)) {
	for _, f := range Fixtures(t) {
		if _, ok := want[f.Name]; !ok {
			t.Errorf("testdata/%s has no expected alerts", f.Name)
		}
	}
	for _, file := range slices.Sorted(maps.Keys(want)) {
		want := want[file]
		t.Run(file, func(t *testing.T) {
			got, err := parse(file, Fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || got == nil {
				t.Fatalf("got %d alerts (nil: %v), want %d", len(got), got == nil, len(want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("alert %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
				if err := alert.CheckNormalized(got[i]); err != nil {
					t.Errorf("alert %d: %v", i, err)
				}
				for _, check := range checks {
					check(t, got[i])
				}
			}
		})
	}
}

// Bad is a payload an adapter must refuse, and part of the message that
// tells the sender why.
type Bad struct {
	Name, Body string
	Msg        string // part of the message
}

// Refuses parses each bad payload; each must be refused as Refused says.
func Refuses(t *testing.T, cases []Bad, parse func(body []byte) ([]alert.Alert, error)) {
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := parse([]byte(tt.Body))
			if got != nil {
				t.Errorf("refused, yet returned %d alerts", len(got))
			}
			Refused(t, err, tt.Msg)
		})
	}
}

// Refused checks that err is the sender's fault, an *alert.InvalidError
// (a 400 the sender sees), and that its message mentions wantMsg.
func Refused(t testing.TB, err error, wantMsg string) {
	t.Helper()
	var invalid *alert.InvalidError
	if !errors.As(err, &invalid) {
		t.Fatalf("err = %v, want an *alert.InvalidError", err)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error %q does not mention %q", err, wantMsg)
	}
}

// Verdict checks a signature check's answer: accepted when wantMsg is
// empty, otherwise Refused with a message that gives away none of secrets
// (the key, the signature we expected).
func Verdict(t testing.TB, err error, wantMsg string, secrets ...string) {
	t.Helper()
	if wantMsg == "" {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	Refused(t, err, wantMsg)
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q gives away %q", err, s)
		}
	}
}

// OurFault checks that err is an error of ours (a missing secret, say), not
// one blamed on the sender.
func OurFault(t testing.TB, err error) {
	t.Helper()
	var invalid *alert.InvalidError
	if err == nil || errors.As(err, &invalid) {
		t.Errorf("err = %v, want a non-client error: this is our misconfiguration", err)
	}
}

// BatchLimit checks that one delivery of alert.MaxBatch alerts is taken
// whole and one of a single alert more is refused, saying the limit;
// body builds a payload of n alerts.
func BatchLimit(t *testing.T, parse func(body []byte) ([]alert.Alert, error), body func(n int) []byte) {
	t.Helper()
	if got, err := parse(body(alert.MaxBatch)); err != nil || len(got) != alert.MaxBatch {
		t.Errorf("%d alerts: got %d, %v", alert.MaxBatch, len(got), err)
	}
	_, err := parse(body(alert.MaxBatch + 1))
	Refused(t, err, fmt.Sprintf("at most %d", alert.MaxBatch))
}

// Fuzz seeds f with every fixture and each of extra, and checks each body
// as Parsed says.
func Fuzz(f *testing.F, parse func(body []byte) ([]alert.Alert, error), extra ...string) {
	for _, file := range Fixtures(f) {
		f.Add(file.Body)
	}
	for _, body := range extra {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := parse(body)
		Parsed(t, alerts, err)
	})
}

// Parsed holds one parse to what every adapter promises whatever it is
// sent: it fails only with an *alert.InvalidError (so the sender gets a
// 400, never a 500), and every alert it returns is already in the
// normalized shape the store expects. That it did not panic is the
// fuzzer's part.
func Parsed(t testing.TB, alerts []alert.Alert, err error) {
	t.Helper()
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
}
