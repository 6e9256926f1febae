// Package heartbeat holds check-ins for cron jobs, functions and scripts
// that should report in: each heartbeat expects a ping every period, with
// some grace, and its deadline is computed from stored times only, so it
// holds across restarts and replicas. The deadline check and the alert it
// raises live in service; this package is the data and the pure rules.
package heartbeat

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/text"
)

// Integration is the id of the built-in integration heartbeat alerts come
// from, of type alert.TypeHeartbeat (created by migration 10; it has no
// token, so nothing else posts as it).
const Integration = "heartbeat"

// Alert names of heartbeat alerts.
const (
	AlertMissed = "HeartbeatMissed"
	AlertFailed = "HeartbeatFailed"
)

// Bounds of a heartbeat's schedule.
const (
	MinPeriod = time.Minute
	MaxPeriod = 366 * 24 * time.Hour
	MaxGrace  = 7 * 24 * time.Hour
	// DefaultGrace is the grace when none is given.
	DefaultGrace = 5 * time.Minute
	// MaxLabels bounds the labels a heartbeat gives its alert.
	MaxLabels = 20
	// MaxLog is how much of a failure's log (its end) is kept.
	MaxLog = 8 << 10
)

// State says whether a heartbeat is waiting for its next ping (up) or its
// alert is firing (down).
type State string

const (
	Up   State = "up"
	Down State = "down"
)

// Heartbeat is one check-in.
type Heartbeat struct {
	ID   string
	Name string
	// SecretHash is the SHA-256 of the key in the ping URL; the URL is
	// shown once, when the heartbeat is created.
	SecretHash string
	Period     time.Duration
	Grace      time.Duration
	Labels     map[string]string
	State      State
	// Deadline is when an up heartbeat goes down without a ping.
	Deadline   time.Time
	LastPingAt time.Time
	// StartedAt is when the run under way said it started (zero: none).
	StartedAt time.Time
	FailedAt  time.Time
	DownSince time.Time
	// LastLog is the end of the log the last failure sent.
	LastLog   string
	Pings     int64
	CreatedBy string
	CreatedAt time.Time
}

// New is a heartbeat created at now: its first ping is due within one
// period and the grace, so a job that never runs is noticed too.
func New(id, name string, period, grace time.Duration, labels map[string]string, by string, now time.Time) *Heartbeat {
	return &Heartbeat{ID: id, Name: name, Period: period, Grace: grace, Labels: labels, State: Up,
		Deadline: now.Add(period + grace), CreatedBy: by, CreatedAt: now}
}

// Kind is what a ping says.
type Kind string

const (
	// Success: the run finished; the next is due within a period.
	Success Kind = "ping"
	// Start: a run began; it must end (a success) within the grace.
	Start Kind = "start"
	// Fail: the run failed; the heartbeat goes down at once.
	Fail Kind = "fail"
)

// Change is what a ping or the deadline check does to the heartbeat's
// alert.
type Change int

const (
	Nothing Change = iota
	// Fire: the alert starts firing (or fires again with news).
	Fire
	// Resolve: the alert stops firing.
	Resolve
)

// Ping applies a ping of kind k received at now and says what becomes of
// the heartbeat's alert.
func (h *Heartbeat) Ping(k Kind, log string, now time.Time) Change {
	h.Pings++
	switch k {
	case Start:
		h.StartedAt = now
		if h.State == Up {
			h.Deadline = now.Add(h.Grace)
		}
		return Nothing
	case Fail:
		h.FailedAt, h.LastLog, h.StartedAt = now, log, time.Time{}
		if h.State == Up {
			h.State, h.DownSince = Down, now
		}
		h.Deadline = now.Add(h.Period + h.Grace)
		return Fire
	}
	h.LastPingAt, h.StartedAt = now, time.Time{}
	h.Deadline = now.Add(h.Period + h.Grace)
	if h.State == Down {
		h.State, h.DownSince = Up, time.Time{}
		return Resolve
	}
	return Nothing
}

// Due reports whether an up heartbeat has missed its deadline at now.
func (h *Heartbeat) Due(now time.Time) bool { return h.State == Up && !now.Before(h.Deadline) }

// Miss marks a heartbeat whose deadline passed down.
func (h *Heartbeat) Miss(now time.Time) {
	h.State, h.DownSince = Down, now
}

// Failed reports whether a down heartbeat's alert is for a failure it
// reported rather than a missed deadline.
func (h *Heartbeat) Failed() bool {
	return h.State == Down && !h.FailedAt.IsZero() && !h.FailedAt.Before(h.DownSince)
}

// Fingerprint keys the heartbeat's alert within the built-in integration:
// one alert per heartbeat, firing or resolved.
func (h *Heartbeat) Fingerprint() string { return "heartbeat-" + h.ID }

// Alert is the heartbeat's alert at now: firing (missed or failed) or
// resolved. Its labels are the heartbeat's, with alertname and heartbeat
// set by Quench.
func (h *Heartbeat) Alert(status alert.Status, failed bool, now time.Time) alert.Alert {
	labels := maps.Clone(h.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["alertname"] = AlertMissed
	summary := fmt.Sprintf("Heartbeat %s missed", h.Name)
	desc := fmt.Sprintf("No ping from %s since %s; one is expected every %s, with %s of grace.",
		h.Name, when(h.LastPingAt, "it was created"), Format(h.Period), Format(h.Grace))
	if !h.StartedAt.IsZero() {
		desc = fmt.Sprintf("%s started a run at %s that did not finish within %s of grace.",
			h.Name, h.StartedAt.UTC().Format(time.RFC3339), Format(h.Grace))
	}
	if failed {
		labels["alertname"] = AlertFailed
		summary = fmt.Sprintf("Heartbeat %s reported a failure", h.Name)
		desc = fmt.Sprintf("%s reported a failure at %s.", h.Name, h.FailedAt.UTC().Format(time.RFC3339))
	}
	labels["heartbeat"] = h.Name
	ann := map[string]string{"summary": summary, "description": desc}
	if failed && h.LastLog != "" {
		ann["log"] = h.LastLog
	}
	a := alert.Alert{Fingerprint: h.Fingerprint(), Status: status, Labels: labels, Annotations: ann,
		StartsAt: h.DownSince, GroupKey: "heartbeat/" + h.ID}
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	if status == alert.Resolved {
		a.EndsAt = now
	}
	alert.Normalize(&a)
	return a
}

func when(t time.Time, otherwise string) string {
	if t.IsZero() {
		return otherwise
	}
	return t.UTC().Format(time.RFC3339)
}

// ParseDuration reads a period or grace: Go's form ("1h30m", "90s") or a
// number of days ("1d", "7d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 3660 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 10m, 1h or 1d", s)
	}
	return d, nil
}

// Format writes a duration the way ParseDuration reads it, short.
func Format(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}

// CheckSchedule refuses a period or grace out of bounds.
func CheckSchedule(period, grace time.Duration) error {
	switch {
	case period < MinPeriod:
		return fmt.Errorf("period must be at least %s", Format(MinPeriod))
	case period > MaxPeriod:
		return fmt.Errorf("period must be at most %s", Format(MaxPeriod))
	case period%time.Second != 0 || grace%time.Second != 0:
		return fmt.Errorf("period and grace are whole seconds")
	case grace < 0:
		return fmt.Errorf("grace must not be negative")
	case grace > MaxGrace:
		return fmt.Errorf("grace must be at most %s", Format(MaxGrace))
	}
	return nil
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// CheckLabels refuses labels an alert cannot carry, and the ones Quench
// sets itself.
func CheckLabels(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("at most %d labels", MaxLabels)
	}
	for k, v := range labels {
		switch {
		case !labelName.MatchString(k) || len(k) > 100:
			return fmt.Errorf("label name %q: letters, digits and _, not starting with a digit", k)
		case k == "alertname" || k == "heartbeat":
			return fmt.Errorf("label %q is set by Quench", k)
		case v == "" || len(v) > 200 || text.Clean(v, 0) != v || strings.ContainsAny(v, "\n\r"):
			return fmt.Errorf("label %s: the value must be one line of 1 to 200 bytes", k)
		}
	}
	return nil
}

// LogTail keeps the end of a failure's log: the last MaxLog bytes, valid
// UTF-8.
func LogTail(b []byte) string {
	if len(b) > MaxLog {
		b = b[len(b)-MaxLog:]
		// Skip the rest of a rune cut at the start.
		for i := 0; i < 3 && len(b) > 0 && b[0]&0xC0 == 0x80; i++ {
			b = b[1:]
		}
	}
	return strings.TrimSpace(text.Clean(string(b), 0))
}

// Reschedule gives the heartbeat a new period and grace, and computes its
// deadline again from what it last heard, as a ping would have: a run
// under way must end within the grace of its start; otherwise the next
// ping is due a period and the grace after the last ping (or failure, or,
// before any, the creation). A deadline that has passed already makes
// the next check fire the alert. A down heartbeat stays down until a
// ping.
func (h *Heartbeat) Reschedule(period, grace time.Duration) {
	h.Period, h.Grace = period, grace
	if h.State == Up && !h.StartedAt.IsZero() {
		h.Deadline = h.StartedAt.Add(grace)
		return
	}
	from := h.CreatedAt
	if h.LastPingAt.After(from) {
		from = h.LastPingAt
	}
	if h.FailedAt.After(from) {
		from = h.FailedAt
	}
	h.Deadline = from.Add(period + grace)
}
