package review

import (
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

// AgendaLead is how long before the meeting the agenda goes to the team's
// channels.
const AgendaLead = time.Hour

// Schedule is the review day: a weekday and a time of day in a time zone.
type Schedule struct {
	Weekday time.Weekday
	// Minute is minutes after midnight.
	Minute   int
	Timezone string
	loc      *time.Location
}

// ParseSchedule checks a review day: a weekday's English name ("tuesday"
// or "tue"), a 24-hour time ("10:00") and an IANA time zone ("" is UTC).
func ParseSchedule(weekday, clock, timezone string) (Schedule, error) {
	var s Schedule
	wd, ok := parseWeekday(weekday)
	if !ok {
		return s, problem.Unprocessablef("weekday %q: want monday … sunday", weekday)
	}
	t, err := time.Parse("15:04", strings.TrimSpace(clock))
	if err != nil {
		return s, problem.Unprocessablef("time %q: want HH:MM, 24-hour", clock)
	}
	return NewSchedule(wd, t.Hour()*60+t.Minute(), timezone)
}

// NewSchedule checks and builds a schedule.
func NewSchedule(wd time.Weekday, minute int, timezone string) (Schedule, error) {
	timezone = strings.TrimSpace(timezone)
	if timezone == "" {
		timezone = "UTC"
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil || strings.EqualFold(timezone, "local") {
		return Schedule{}, problem.Unprocessablef("time zone %q: want an IANA name such as Europe/Berlin, or UTC", timezone)
	}
	if wd < time.Sunday || wd > time.Saturday || minute < 0 || minute >= 24*60 {
		return Schedule{}, problem.Unprocessablef("the review day needs a weekday and a time of day")
	}
	return Schedule{Weekday: wd, Minute: minute, Timezone: timezone, loc: loc}, nil
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		if len(s) >= 3 && strings.HasPrefix(name, s) {
			return d, true
		}
	}
	return 0, false
}

// Clock is the time of day, "10:00".
func (s Schedule) Clock() string {
	return time.Date(2000, 1, 1, s.Minute/60, s.Minute%60, 0, 0, time.UTC).Format("15:04")
}

// Next is the first meeting at or after now.
func (s Schedule) Next(now time.Time) time.Time {
	loc := s.loc
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	for d := 0; d <= 7; d++ {
		day := local.AddDate(0, 0, d)
		t := time.Date(day.Year(), day.Month(), day.Day(), s.Minute/60, s.Minute%60, 0, 0, loc)
		if t.Weekday() == s.Weekday && !t.Before(now) {
			return t
		}
	}
	return time.Time{} // unreachable: some day of the next eight is the weekday
}

// AgendaDue reports the meeting whose agenda is due at now: the next one,
// when it is at most AgendaLead away.
func (s Schedule) AgendaDue(now time.Time) (meeting time.Time, due bool) {
	meeting = s.Next(now)
	return meeting, meeting.Sub(now) <= AgendaLead
}
