package alert

import "time"

// Snooze keeps matching alerts quiet for a while: a new alert whose labels
// match all of its matchers goes to the inbox and opens or joins no
// incident until EndsAt, whatever the rules say.
type Snooze struct {
	ID        int64
	Matchers  []Matcher
	Reason    string
	CreatedBy string
	CreatedAt time.Time
	EndsAt    time.Time
}

// Active reports whether the snooze holds at now.
func (s *Snooze) Active(now time.Time) bool { return now.Before(s.EndsAt) }

// Matches reports whether the snooze, active at now, quiets an alert with
// labels. A snooze without matchers is refused when made, so it never
// quiets everything by accident.
func (s *Snooze) Matches(now time.Time, labels map[string]string) bool {
	if !s.Active(now) || len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// MatchersString is the stored form of the snooze's matchers.
func (s *Snooze) MatchersString() string {
	r := Rule{Matchers: s.Matchers}
	return r.MatchersString()
}

// Snoozed returns the first of snoozes that quiets an alert with labels at
// now, or nil.
func Snoozed(snoozes []Snooze, now time.Time, labels map[string]string) *Snooze {
	for i := range snoozes {
		if snoozes[i].Matches(now, labels) {
			return &snoozes[i]
		}
	}
	return nil
}
