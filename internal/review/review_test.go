package review

import (
	"testing"
	"time"
)

func TestNearestRank(t *testing.T) {
	m := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, x := range n {
			out[i] = time.Duration(x) * time.Minute
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		sorted    []time.Duration
		p         int
		wantMinut int
	}{
		{"empty is zero", nil, 50, 0},
		{"one value is every percentile", m(7), 90, 7},
		{"median of two is the lower (rank ⌈1⌉)", m(10, 20), 50, 10},
		{"p90 of two is the higher (rank ⌈1.8⌉)", m(10, 20), 90, 20},
		{"median of five is the third", m(10, 20, 30, 40, 50), 50, 30},
		{"p90 of five is the fifth (rank ⌈4.5⌉)", m(10, 20, 30, 40, 50), 90, 50},
		{"median of six is the third (rank ⌈3⌉)", m(10, 20, 30, 40, 50, 60), 50, 30},
		{"p90 of ten is the ninth", m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9},
		{"p90 of eleven is the tenth (rank ⌈9.9⌉)", m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 90, 10},
		{"p100 is the largest", m(1, 2, 3), 100, 3},
		{"p1 is the smallest", m(1, 2, 3), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NearestRank(tc.sorted, tc.p); got != time.Duration(tc.wantMinut)*time.Minute {
				t.Errorf("NearestRank(%v, %d) = %v, want %d min", tc.sorted, tc.p, got, tc.wantMinut)
			}
		})
	}
	s := Summarize(m(50, 10, 40, 20, 30))
	if s.Count != 5 || s.Median.Duration() != 30*time.Minute || s.P90.Duration() != 50*time.Minute {
		t.Errorf("Summarize sorts first: %+v", s)
	}
}

func TestMonthsAndPercent(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	got := Months(d(2026, 11, 15), d(2027, 2, 1))
	if want := []string{"2026-11", "2026-12", "2027-01"}; len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("Months = %v, want %v (until is excluded)", got, want)
	}
	if got := Months(d(2026, 11, 1), d(2026, 11, 1)); len(got) != 0 {
		t.Errorf("an empty period has no months: %v", got)
	}
	for share, want := range map[float64]int{0: 0, 4.0 / 9: 44, 0.5: 50, 2.0 / 3: 67, 0.125: 13, 1: 100} {
		if got := Percent(share); got != want {
			t.Errorf("Percent(%v) = %d, want %d", share, got, want)
		}
	}
}

func TestSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data")
	}
	tue, err := ParseSchedule("tue", "10:00", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		now      time.Time
		meeting  time.Time
		agendaDu bool
	}{
		{"a week ahead", time.Date(2026, 11, 17, 10, 0, 1, 0, berlin), time.Date(2026, 11, 24, 10, 0, 0, 0, berlin), false},
		{"two hours before", time.Date(2026, 11, 24, 8, 0, 0, 0, berlin), time.Date(2026, 11, 24, 10, 0, 0, 0, berlin), false},
		{"an hour before: due", time.Date(2026, 11, 24, 9, 0, 0, 0, berlin), time.Date(2026, 11, 24, 10, 0, 0, 0, berlin), true},
		{"at the meeting: still this one", time.Date(2026, 11, 24, 10, 0, 0, 0, berlin), time.Date(2026, 11, 24, 10, 0, 0, 0, berlin), true},
		{"after it: next week", time.Date(2026, 11, 24, 10, 1, 0, 0, berlin), time.Date(2026, 12, 1, 10, 0, 0, 0, berlin), false},
		// Summer time ends on Sunday 25 October 2026: the meeting stays at
		// 10:00 local, 09:00 UTC instead of 08:00.
		{"across the clock change", time.Date(2026, 10, 22, 12, 0, 0, 0, time.UTC), time.Date(2026, 10, 27, 9, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meeting, due := tue.AgendaDue(tc.now)
			if !meeting.Equal(tc.meeting) || due != tc.agendaDu {
				t.Errorf("AgendaDue(%v) = %v, %v; want %v, %v", tc.now, meeting, due, tc.meeting, tc.agendaDu)
			}
		})
	}
	for _, bad := range [][3]string{{"someday", "10:00", ""}, {"tu", "10:00", ""}, {"friday", "25:00", ""}, {"friday", "10:00", "Mars/Olympus"}, {"friday", "10:00", "Local"}} {
		if _, err := ParseSchedule(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", bad)
		}
	}
	if s, err := ParseSchedule("Friday", "9:30", ""); err != nil || s.Weekday != time.Friday || s.Clock() != "09:30" || s.Timezone != "UTC" {
		t.Errorf("ParseSchedule(Friday 9:30) = %+v, %v", s, err)
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Minute: "12 min", 5 * time.Hour: "5 h", 5*time.Hour + 59*time.Minute: "5 h",
		9 * 24 * time.Hour: "9 d", 9*24*time.Hour + 4*time.Hour: "9 d 4 h",
	} {
		if got := Words(d); got != want {
			t.Errorf("Words(%v) = %q, want %q", d, got, want)
		}
	}
}
