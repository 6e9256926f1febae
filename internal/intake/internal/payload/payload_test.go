package payload

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

type sample struct {
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
	Items  []struct {
		Name string `json:"name"`
	} `json:"items"`
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, path string
		strict           bool
		want             string
	}{
		{"syntax", `{"status":}`, "", false, "invalid JSON at byte 11: invalid character '}' looking for beginning of value"},
		{"truncated", `{"status":"fir`, "", false, "invalid JSON at byte 14: unexpected end of JSON input"},
		{"truncated strict", `{"status":"fir`, "", true, "invalid JSON: unexpected end of input"},
		{"empty strict", ``, "", true, "invalid JSON: unexpected end of input"},
		{"type", `{"status":1}`, "", false, "status: expected a string, got JSON number"},
		{"type with path", `{"items":[{"name":[]}]}`, "alerts[3]", false, "alerts[3].items.name: expected a string, got JSON array"},
		{"whole body", `"text"`, "", false, "body: expected an object, got JSON string"},
		{"unknown field", `{"status":"firing","stauts":"x"}`, "alerts[1]", true, `alerts[1]: unknown field "stauts"`},
		{"unknown field lenient", `{"status":"firing","stauts":"x"}`, "", false, ""},
		{"long unknown field", `{"` + strings.Repeat("x", 500) + `":1}`, "", true, `body: unknown field "` + strings.Repeat("x", 64) + `…"`},
		{"trailing data strict", `{} {}`, "", true, "body: unexpected data after the JSON value"},
		{"trailing data lenient", `{} {}`, "", false, "invalid JSON at byte 4: invalid character '{' after top-level value"},
		{"trailing space", "{}\n\t ", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v sample
			var err error
			if tt.strict {
				err = DecodeStrict([]byte(tt.body), &v, tt.path)
			} else {
				err = Decode([]byte(tt.body), &v, tt.path)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var invalid *alert.InvalidError
			if !errors.As(err, &invalid) || err.Error() != tt.want {
				t.Errorf("err = %#v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestNumberOverflowMessageIsShort(t *testing.T) {
	var v struct {
		N int8 `json:"n"`
	}
	err := Decode([]byte(`{"n":`+strings.Repeat("9", 1000)+`}`), &v, "")
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("err = %v", err)
	}
}

func TestTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"0001-01-01T00:00:00Z", time.Time{}, false},
		{"2026-11-23T20:11:18.867Z", time.Date(2026, 11, 23, 20, 11, 18, 867000000, time.UTC), false},
		{"2026-11-23T21:11:18+01:00", time.Date(2026, 11, 23, 20, 11, 18, 0, time.UTC), false},
		{"2026-11-23 20:11:18", time.Time{}, true},
		{"1795464678", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := Time("startsAt", tt.in)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("Time(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, s := range []string{"firing", "resolved"} {
		if got, err := Status("status", s); err != nil || string(got) != s {
			t.Errorf("Status(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Firing", "pending", "ok", "alerting"} {
		if _, err := Status("alerts[0].status", s); err == nil || !strings.HasPrefix(err.Error(), "alerts[0].status: unknown status") {
			t.Errorf("Status(%q): err = %v", s, err)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\x00\"b"); got != `"a\x00\"b"` {
		t.Errorf("Quote = %s", got)
	}
	if got := Quote(strings.Repeat("é", 100)); got != `"`+strings.Repeat("é", 32)+`…"` {
		t.Errorf("Quote(long) = %s", got)
	}
}
