package alert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in    string
		name  string
		op    MatchOp
		value string
		str   string // String(); empty means `name="value"` as parsed
	}{
		{in: `severity="critical"`, name: "severity", op: MatchEqual, value: "critical"},
		{in: `severity=critical`, name: "severity", op: MatchEqual, value: "critical", str: `severity="critical"`},
		{in: `  env != staging `, name: "env", op: MatchNotEqual, value: "staging", str: `env!="staging"`},
		{in: `team=~"a|b"`, name: "team", op: MatchRegexp, value: "a|b"},
		{in: `team=~a|b`, name: "team", op: MatchRegexp, value: "a|b", str: `team=~"a|b"`},
		{in: `instance!~"web-[0-9]+:8080"`, name: "instance", op: MatchNotRegexp, value: "web-[0-9]+:8080"},
		{in: `summary="say \"hi\"\\n\n"`, name: "summary", op: MatchEqual, value: "say \"hi\"\\n\n"},
		{in: `x=""`, name: "x", op: MatchEqual, value: ""},
		{in: `"service.name"="checkout"`, name: "service.name", op: MatchEqual, value: "checkout"},
		{in: `_a1="ünïcode, {with} = signs"`, name: "_a1", op: MatchEqual, value: "ünïcode, {with} = signs"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := ParseMatcher(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != tt.name || m.Op != tt.op || m.Value != tt.value {
				t.Errorf("got %q %q %q", m.Name, m.Op, m.Value)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if m.String() != want {
				t.Errorf("String() = %s, want %s", m.String(), want)
			}
			back, err := ParseMatcher(m.String())
			if err != nil || back.Name != m.Name || back.Op != m.Op || back.Value != m.Value {
				t.Errorf("String() does not round-trip: %v, %+v", err, back)
			}
		})
	}
}

func TestParseMatcherErrors(t *testing.T) {
	tests := []struct{ in, wantMsg string }{
		{"", "expected a label name"},
		{"severity", "expected an operator"},
		{"severity==critical", "expected a value"},
		{"severity=", "expected a value"},
		{"severity = bad value", "unexpected"},
		{`severity="critical`, "unterminated"},
		{`severity="a\tb"`, `unknown escape "\\t"`},
		{`team=~"(a"`, "bad regular expression"},
		{`""="x"`, "empty label name"},
		{`1abc="x"`, "expected a label name"},
		{`a="x"b`, "unexpected"},
		{"a=\"\xff\"", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseMatcher(tt.in)
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("err = %v, want an *InvalidError", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		in   string
		want []string // String() of each matcher
	}{
		{``, nil},
		{`{}`, nil},
		{` { } `, nil},
		{`a=b`, []string{`a="b"`}},
		{`{alertname="DemoHighLatency", service="checkout"}`, []string{`alertname="DemoHighLatency"`, `service="checkout"`}},
		{`env=~"prod|staging",severity!=info,`, []string{`env=~"prod|staging"`, `severity!="info"`}},
		{`{a="x,y}", b!~"z"}`, []string{`a="x,y}"`, `b!~"z"`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ms, err := ParseMatchers(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseMatchersErrors(t *testing.T) {
	for _, in := range []string{`{a=b`, `{`, `a=b c=d`, `a=b,,c=d`, `,a=b`, `{a=b}}`, `a=b}`} {
		t.Run(in, func(t *testing.T) {
			if _, err := ParseMatchers(in); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestMatcherMatches(t *testing.T) {
	labels := map[string]string{"env": "prod", "team": "payments", "empty": ""}
	tests := []struct {
		matcher string
		want    bool
	}{
		{`env="prod"`, true},
		{`env="preprod"`, false},
		{`env!="staging"`, true},
		{`env=~"pro"`, false}, // anchored: a prefix is not a match
		{`env=~"pro.*"`, true},
		{`env=~"preprod|prod"`, true},
		{`env!~"prod"`, false},
		{`missing=""`, true}, // a missing label matches as the empty string
		{`missing!=""`, false},
		{`missing=~".*"`, true},
		{`missing=~".+"`, false},
		{`missing!~"x"`, true},
		{`empty=""`, true},
		{`team=~"(?i)PAYMENTS"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.matcher, func(t *testing.T) {
			m, err := ParseMatcher(tt.matcher)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(labels); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
			literal := Matcher{Name: m.Name, Op: m.Op, Value: m.Value}
			if got := literal.Matches(labels); got != tt.want {
				t.Errorf("struct-literal Matches = %v, want %v", got, tt.want)
			}
		})
	}
	if (Matcher{Name: "env", Op: "<>", Value: "prod"}).Matches(labels) {
		t.Error("unknown operator matched")
	}
	if (Matcher{Name: "env", Op: MatchRegexp, Value: "("}).Matches(labels) {
		t.Error("uncompilable literal regexp matched")
	}
}

func TestNewMatcher(t *testing.T) {
	if _, err := NewMatcher("env", "==", "prod"); err == nil {
		t.Error("unknown operator accepted")
	}
	if _, err := NewMatcher("", MatchEqual, "prod"); err == nil {
		t.Error("empty name accepted")
	}
	m, err := NewMatcher("team", MatchNotRegexp, "a|b")
	if err != nil || m.re == nil {
		t.Fatalf("NewMatcher: %v, compiled %v", err, m.re != nil)
	}
}

func TestMatcherJSON(t *testing.T) {
	type rule struct {
		Match []Matcher `json:"match"`
	}
	in := `{"match":["env=~\"prod|staging\"","severity!=info"]}`
	var r rule
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Match) != 2 || r.Match[0].re == nil || !r.Match[0].Matches(map[string]string{"env": "staging"}) {
		t.Fatalf("decoded %+v", r.Match)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"match":["env=~\"prod|staging\"","severity!=\"info\""]}`; string(out) != want {
		t.Errorf("encoded %s, want %s", out, want)
	}

	for _, bad := range []string{`{"match":[42]}`, `{"match":["env"]}`} {
		var invalid *InvalidError
		if err := json.Unmarshal([]byte(bad), &r); !errors.As(err, &invalid) {
			t.Errorf("%s: err = %v, want an *InvalidError", bad, err)
		}
	}
}

// FuzzParseMatchers checks that whatever a user types either fails with an
// *InvalidError or yields matchers whose String form parses back to the
// same matchers.
func FuzzParseMatchers(f *testing.F) {
	for _, seed := range []string{
		`{alertname="DemoHighLatency", service="checkout"}`,
		`env=~"prod|staging",severity!=info,`,
		`"service.name"!~"a\"b\\c\nd"`,
		`{}`, `a=`, `{a="x,y}"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v is not an *InvalidError", err)
			}
			return
		}
		for _, m := range ms {
			back, err := ParseMatcher(m.String())
			if err != nil {
				t.Fatalf("%s does not parse back: %v", m.String(), err)
			}
			if back.Name != m.Name || back.Op != m.Op || back.Value != m.Value {
				t.Fatalf("%s round-trips to %s", m.String(), back.String())
			}
			m.Matches(map[string]string{m.Name: m.Value})
		}
	})
}

func TestInvalid(t *testing.T) {
	err := Invalid("alerts[%d].status: unknown status %q", 2, "pending")
	var invalid *InvalidError
	if !errors.As(err, &invalid) || invalid.Msg != `alerts[2].status: unknown status "pending"` || err.Error() != invalid.Msg {
		t.Errorf("Invalid = %#v", err)
	}
}
