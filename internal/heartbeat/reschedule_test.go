package heartbeat

import (
	"testing"
	"time"
)

// Reschedule computes the deadline again from what the heartbeat last
// heard, as a ping would have.
func TestReschedule(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for name, c := range map[string]struct {
		h    Heartbeat
		want time.Time
	}{
		"never pinged: from its creation":       {Heartbeat{State: Up, CreatedAt: t0}, at(130)},
		"pinged: from the last ping":            {Heartbeat{State: Up, CreatedAt: t0, LastPingAt: at(30)}, at(160)},
		"failed after the ping: from the fail":  {Heartbeat{State: Down, CreatedAt: t0, LastPingAt: at(30), FailedAt: at(50)}, at(180)},
		"a run under way: within the grace":     {Heartbeat{State: Up, CreatedAt: t0, LastPingAt: at(30), StartedAt: at(40)}, at(50)},
		"down and started: from the last event": {Heartbeat{State: Down, CreatedAt: t0, FailedAt: at(20), StartedAt: at(40)}, at(150)},
	} {
		h := c.h
		h.Period, h.Grace = time.Hour, 5*time.Minute
		h.Reschedule(2*time.Hour, 10*time.Minute)
		if !h.Deadline.Equal(c.want) || h.Period != 2*time.Hour || h.Grace != 10*time.Minute || h.State != c.h.State {
			t.Errorf("%s: deadline %s, want %s (%s, %s, %s)", name, h.Deadline.Format(time.Kitchen), c.want.Format(time.Kitchen), h.Period, h.Grace, h.State)
		}
	}
}
