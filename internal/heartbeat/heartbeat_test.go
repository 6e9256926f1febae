package heartbeat

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quenchhq/quench/internal/alert"
)

func TestParseAndFormatDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m": time.Minute, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
		if back, _ := ParseDuration(Format(got)); back != got {
			t.Errorf("Format(%v) = %q does not read back", got, Format(got))
		}
	}
	for _, bad := range []string{"", "soon", "d", "-1d", "1.5d", "1w"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	if Format(time.Hour) != "1h" || Format(10*time.Minute) != "10m" || Format(90*time.Minute) != "1h30m" {
		t.Errorf("Format: %s %s %s", Format(time.Hour), Format(10*time.Minute), Format(90*time.Minute))
	}
}

// The schedule: a new heartbeat is due a period and the grace after its
// creation; a ping moves the deadline; a start shortens it to the grace;
// a failure goes down at once; a ping after being down resolves.
func TestPingRules(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	h := New("id1", "backup", time.Hour, 10*time.Minute, map[string]string{"service": "backup"}, "root", t0)
	if !h.Deadline.Equal(t0.Add(70*time.Minute)) || h.Due(t0.Add(70*time.Minute-time.Second)) || !h.Due(t0.Add(70*time.Minute)) {
		t.Fatalf("deadline %v", h.Deadline)
	}
	if c := h.Ping(Success, "", t0.Add(time.Hour)); c != Nothing || !h.Deadline.Equal(t0.Add(130*time.Minute)) {
		t.Fatalf("ping: %v %v", c, h.Deadline)
	}
	if c := h.Ping(Start, "", t0.Add(2*time.Hour)); c != Nothing || !h.Deadline.Equal(t0.Add(130*time.Minute)) {
		t.Fatalf("start: %v %v", c, h.Deadline)
	}
	if c := h.Ping(Fail, "oops", t0.Add(2*time.Hour+time.Minute)); c != Fire || h.State != Down || !h.Failed() || h.Due(t0.Add(100*time.Hour)) {
		t.Fatalf("fail: %v %+v", c, h)
	}
	a := h.Alert(alert.Firing, true, t0.Add(2*time.Hour+time.Minute))
	if a.Labels["alertname"] != AlertFailed || a.Labels["service"] != "backup" || a.Labels["heartbeat"] != "backup" || a.Annotations["log"] != "oops" || a.Fingerprint != "heartbeat-id1" {
		t.Fatalf("alert %+v", a)
	}
	if c := h.Ping(Success, "", t0.Add(3*time.Hour)); c != Resolve || h.State != Up || h.Failed() {
		t.Fatalf("ping after failure: %v %+v", c, h)
	}
	h.Miss(t0.Add(5 * time.Hour))
	if h.Failed() || h.State != Down {
		t.Fatalf("miss: %+v", h)
	}
	if a := h.Alert(alert.Firing, false, t0.Add(5*time.Hour)); a.Labels["alertname"] != AlertMissed || !a.StartsAt.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("missed alert %+v", a)
	}
	if err := alert.CheckNormalized(h.Alert(alert.Resolved, false, t0.Add(6*time.Hour))); err != nil {
		t.Fatal(err)
	}
}

func TestLogTailKeepsTheEnd(t *testing.T) {
	log := strings.Repeat("é", MaxLog) + "\nthe end\n"
	tail := LogTail([]byte(log))
	if len(tail) > MaxLog || !strings.HasSuffix(tail, "the end") || !utf8.ValidString(tail) {
		t.Fatalf("tail of %d bytes, ends %q", len(tail), tail[len(tail)-10:])
	}
	if LogTail([]byte("a\x00b\xff")) != "a\ufffdb\ufffd" {
		t.Fatalf("unclean log kept: %q", LogTail([]byte("a\x00b\xff")))
	}
}
