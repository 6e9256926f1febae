package web

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, ""},
		{now.Add(-20 * time.Second), "just now"},
		{now.Add(-12 * time.Minute), "12 min ago"},
		{now.Add(-3 * time.Hour), "3 h ago"},
		{now.Add(-50 * time.Hour), "2 d ago"},
		{now.Add(2 * time.Hour), "in 2 h"},
		{now.Add(10 * time.Second), "just now"},
	} {
		if got := ago(c.at, now); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", now.Sub(c.at), got, c.want)
		}
	}
}
