package alert

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"clean text is kept", "checkout p99", 100, "checkout p99"},
		{"NUL", "a\x00b", 100, "a\uFFFDb"},
		{"invalid byte", "a\xffb", 100, "a\uFFFDb"},
		{"truncated sequence", "a\xe2\x82", 100, "a\uFFFD\uFFFD"},
		{"encoded surrogate", "\xed\xa0\x80", 100, "\uFFFD\uFFFD\uFFFD"},
		{"existing U+FFFD is kept", "a\uFFFD", 100, "a\uFFFD"},
		{"cap in bytes", "abcdef", 3, "abc"},
		{"cap never splits a rune", "aé", 2, "a"},
		{"cap counts the replacement's three bytes", "a\x00", 3, "a"},
		{"zero cap", "abc", 0, ""},
		{"negative cap", "abc", -1, ""},
		{"empty", "", 10, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if !utf8.ValidString(got) || strings.Contains(got, "\x00") {
				t.Errorf("Clean(%q) = %q is not clean", tt.in, got)
			}
		})
	}
}

func TestNormalizeTitle(t *testing.T) {
	long := strings.Repeat("é", 400)
	tests := []struct {
		name        string
		title       string
		labels      map[string]string
		annotations map[string]string
		want        string
	}{
		{"summary first", "sender title", map[string]string{"alertname": "HighLatency"}, map[string]string{"summary": "p99 is 2s"}, "p99 is 2s"},
		{"then alertname", "sender title", map[string]string{"alertname": "HighLatency"}, nil, "HighLatency"},
		{"then sender title", "sender title", nil, nil, "sender title"},
		{"blank summary is skipped", "", map[string]string{"alertname": "HighLatency"}, map[string]string{"summary": " \n\t"}, "HighLatency"},
		{"fallback", "", nil, nil, "untitled alert"},
		{"one line", "", nil, map[string]string{"summary": "  disk\nfull \t on\r\ndb-1  "}, "disk full on db-1"},
		{"NUL inside", "", nil, map[string]string{"summary": "a\x00b"}, "a\uFFFDb"},
		{"long title ends in an ellipsis", long, nil, nil, strings.Repeat("é", MaxTitleRunes-1) + "…"},
		{"exactly at the cap", long[:2*MaxTitleRunes], nil, nil, long[:2*MaxTitleRunes]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Alert{Status: Firing, Title: tt.title, Labels: tt.labels, Annotations: tt.annotations}
			Normalize(&a)
			if a.Title != tt.want {
				t.Errorf("Title = %q, want %q", a.Title, tt.want)
			}
			if err := CheckNormalized(a); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestNormalizeMaps(t *testing.T) {
	many := map[string]string{}
	for i := range 100 {
		many[fmt.Sprintf("k%03d", i)] = "v"
	}
	a := Alert{Status: Firing, Labels: many, Annotations: many}
	Normalize(&a)
	if len(a.Labels) != MaxLabels || len(a.Annotations) != MaxAnnotations {
		t.Fatalf("kept %d labels, %d annotations", len(a.Labels), len(a.Annotations))
	}
	for i := range MaxLabels {
		if _, ok := a.Labels[fmt.Sprintf("k%03d", i)]; !ok {
			t.Errorf("label k%03d dropped; the names sorting last should go", i)
		}
	}

	a = Alert{Status: Firing, Labels: map[string]string{
		"":        "no name",
		"a\x00":   "first",
		"a\xff":   "second", // cleans to the same name as "a\x00"
		"long":    strings.Repeat("x", 5000),
		"invalid": "bad\xc3",
	}, Annotations: map[string]string{"description": strings.Repeat("y", 20000)}}
	Normalize(&a)
	want := map[string]string{
		"a\uFFFD": "first",
		"long":    strings.Repeat("x", MaxLabelValueBytes),
		"invalid": "bad\uFFFD",
	}
	if !reflect.DeepEqual(a.Labels, want) {
		t.Errorf("labels = %q, want %q", a.Labels, want)
	}
	if got := len(a.Annotations["description"]); got != MaxAnnotationValueBytes {
		t.Errorf("annotation kept %d bytes, want %d", got, MaxAnnotationValueBytes)
	}

	a = Alert{Status: Resolved}
	Normalize(&a)
	if a.Labels == nil || a.Annotations == nil || a.Links == nil {
		t.Error("nil maps or links survive Normalize; the store would write null")
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	labels := map[string]string{"alertname": "DemoServiceDown", "env": "e2e", "service": "demo", "severity": "critical"}
	a := Alert{Status: Firing, Labels: labels}
	Normalize(&a)
	if a.Fingerprint != "c1fd535dc93659ef" {
		t.Errorf("computed fingerprint %s, want Alertmanager's c1fd535dc93659ef", a.Fingerprint)
	}

	// Labels that only differ in bytes Clean replaces stay distinct alerts.
	x := Alert{Status: Firing, Labels: map[string]string{"host": "a\x00"}}
	y := Alert{Status: Firing, Labels: map[string]string{"host": "a\xff"}}
	Normalize(&x)
	Normalize(&y)
	if x.Fingerprint == y.Fingerprint {
		t.Error("distinct raw label sets got the same fingerprint")
	}

	given := Alert{Status: Firing, Fingerprint: "issue:42", Labels: labels}
	Normalize(&given)
	if given.Fingerprint != "issue:42" {
		t.Errorf("sender's fingerprint replaced by %s", given.Fingerprint)
	}
}

func TestNormalizeLongKeysStayDistinct(t *testing.T) {
	prefix := strings.Repeat("k", 2000)
	a := Alert{Status: Firing, Fingerprint: prefix + "1", GroupKey: prefix + "1"}
	b := Alert{Status: Firing, Fingerprint: prefix + "2", GroupKey: prefix + "2"}
	Normalize(&a)
	Normalize(&b)
	if len(a.Fingerprint) > MaxFingerprintBytes || len(a.GroupKey) > MaxGroupKeyBytes {
		t.Errorf("keys not capped: %d, %d bytes", len(a.Fingerprint), len(a.GroupKey))
	}
	if a.Fingerprint == b.Fingerprint || a.GroupKey == b.GroupKey {
		t.Error("long keys with a common prefix collapsed into one")
	}
	again := a
	Normalize(&again)
	if again.Fingerprint != a.Fingerprint || again.GroupKey != a.GroupKey {
		t.Error("Normalize is not idempotent on capped keys")
	}
}

func TestNormalizeLinks(t *testing.T) {
	longURL := "https://grafana.example.com/d/x?q=" + strings.Repeat("%41", 1000)
	in := []Link{
		{Kind: "source", URL: "http://prometheus:9090/graph?g0.expr=up"},
		{Kind: "source", URL: "http://prometheus:9090/graph?g0.expr=up"}, // duplicate
		{Kind: "runbook", URL: "HTTPS://runbooks.example.com/x", Title: "Run\nbook"},
		{Kind: "runbook", URL: "javascript:alert(1)"},
		{Kind: "dashboard", URL: "/relative/path"},
		{Kind: "dashboard", URL: "ftp://files.example.com/x"},
		{Kind: "dashboard", URL: "not a url at all"},
		{Kind: "weird", URL: "https://example.com/"},
		{Kind: "panel", URL: longURL},
	}
	a := Alert{Status: Firing, Links: in}
	Normalize(&a)
	if len(a.Links) != 4 {
		t.Fatalf("links = %+v, want 4", a.Links)
	}
	if a.Links[1].Title != "Run book" || a.Links[2].Kind != LinkOther {
		t.Errorf("links = %+v", a.Links)
	}
	u := a.Links[3].URL
	if len(u) > MaxURLBytes || strings.HasSuffix(u, "%") || strings.HasSuffix(u, "%4") || !IsWebURL(u) {
		t.Errorf("long URL capped badly: %d bytes, ends %q", len(u), u[len(u)-4:])
	}
}

func TestNormalizeTimes(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	start := time.Date(2026, 11, 23, 21, 11, 18, 867123456, cet)
	end := start.Add(time.Minute)

	a := Alert{Status: Resolved, StartsAt: start, EndsAt: end}
	Normalize(&a)
	if a.StartsAt.Location() != time.UTC || a.StartsAt.Nanosecond() != 867123000 || !a.StartsAt.Equal(start.Truncate(time.Microsecond)) {
		t.Errorf("StartsAt = %v", a.StartsAt)
	}
	if a.EndsAt.IsZero() {
		t.Error("resolved alert lost its EndsAt")
	}

	f := Alert{Status: Firing, StartsAt: start, EndsAt: end}
	Normalize(&f)
	if !f.EndsAt.IsZero() {
		t.Errorf("firing alert kept EndsAt %v", f.EndsAt)
	}
}

func TestNormalizeIsIdempotent(t *testing.T) {
	a := Alert{
		Status:      Firing,
		Labels:      map[string]string{"alertname": "x\x00", "": "y"},
		Annotations: map[string]string{"summary": strings.Repeat("word ", 200)},
		Links:       []Link{{Kind: "x", URL: "https://example.com/\xff"}},
	}
	Normalize(&a)
	b := a
	Normalize(&b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("second Normalize changed\n%+v\ninto\n%+v", a, b)
	}
}

func TestCheckNormalizedRejects(t *testing.T) {
	good := func() Alert {
		a := Alert{Status: Firing, Labels: map[string]string{"alertname": "x"}}
		Normalize(&a)
		return a
	}
	tests := []struct {
		name   string
		mutate func(*Alert)
	}{
		{"empty fingerprint", func(a *Alert) { a.Fingerprint = "" }},
		{"unknown status", func(a *Alert) { a.Status = "pending" }},
		{"NUL in label", func(a *Alert) { a.Labels["x"] = "\x00" }},
		{"multi-line title", func(a *Alert) { a.Title = "a\nb" }},
		{"bad link", func(a *Alert) { a.Links = []Link{{Kind: "source", URL: "javascript:x"}} }},
		{"firing with end", func(a *Alert) { a.EndsAt = time.Now().UTC() }},
	}
	if err := CheckNormalized(good()); err != nil {
		t.Fatalf("normalized alert rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good()
			tt.mutate(&a)
			if CheckNormalized(a) == nil {
				t.Error("accepted")
			}
		})
	}
}

// FuzzNormalize throws arbitrary text at every field Normalize touches: the
// result must always pass CheckNormalized, and normalizing again must
// change nothing (so re-reading a stored alert through the same code is
// harmless).
func FuzzNormalize(f *testing.F) {
	f.Add("c1fd535dc93659ef", "alertname", "DemoServiceDown", "Demo service is down", "https://runbooks.example.com/x", "runbook", "Runbook", "{}:{}", true, int64(1795464678))
	f.Add("", "a\x00", "\xff\xfe", " \n ", "HTTP://[::1]:80/%4", "x", "t\tt", "", false, int64(-62135596800))
	f.Add("\xed\xa0\x80", "", "", strings.Repeat("é ", 400), "https://h/"+strings.Repeat("%41", 800)+" ", "panel", "", strings.Repeat("k", 1100), false, int64(253402300799))
	f.Fuzz(func(t *testing.T, fp, key, value, summary, url, kind, linkTitle, groupKey string, firing bool, unix int64) {
		status := Resolved
		if firing {
			status = Firing
		}
		when := time.Unix(unix, 123456789).In(time.FixedZone("X", 5400))
		a := Alert{
			Fingerprint: fp,
			Status:      status,
			Labels:      map[string]string{key: value, value: key},
			Annotations: map[string]string{"summary": summary, key: url},
			StartsAt:    when,
			EndsAt:      when,
			GroupKey:    groupKey,
			Title:       linkTitle,
			Links:       []Link{{Kind: kind, URL: url, Title: linkTitle}, {Kind: kind, URL: url}},
		}
		Normalize(&a)
		if err := CheckNormalized(a); err != nil {
			t.Fatal(err)
		}
		b := a
		b.Labels = maps.Clone(a.Labels)
		b.Annotations = maps.Clone(a.Annotations)
		b.Links = slices.Clone(a.Links)
		Normalize(&b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not idempotent:\n%+v\n%+v", a, b)
		}
	})
}
