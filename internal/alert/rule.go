package alert

import (
	"strings"
	"time"
)

// Action is what a rule does with a newly firing alert.
type Action string

const (
	// ActionOpen opens an incident, unless an open incident already holds
	// an alert of the same group: then the alert joins it.
	ActionOpen Action = "open"
	// ActionAttach joins an open incident of the same group, if any, and
	// otherwise leaves the alert in the inbox.
	ActionAttach Action = "attach"
	// ActionInbox only stores the alert for a person to look at.
	ActionInbox Action = "inbox"
)

// ValidAction reports whether a is a rule action.
func ValidAction(a Action) bool {
	return a == ActionOpen || a == ActionAttach || a == ActionInbox
}

// Rule routes alerts: the first rule, by position, whose matchers all match
// decides. No matchers match everything.
type Rule struct {
	ID       int64
	Position int
	Name     string
	Matchers []Matcher
	Action   Action
	// Integration limits the rule to one integration; empty means all.
	Integration string
	// Severity and Visibility override what an opened incident gets.
	Severity   string
	Visibility string
	CreatedAt  time.Time
}

// Matches reports whether the rule applies to a from integration id.
func (r *Rule) Matches(integration string, a *Alert) bool {
	if r.Integration != "" && r.Integration != integration {
		return false
	}
	for _, m := range r.Matchers {
		if !m.Matches(a.Labels) {
			return false
		}
	}
	return true
}

// MatchersString is the stored form of the rule's matchers.
func (r *Rule) MatchersString() string {
	s := make([]string, len(r.Matchers))
	for i, m := range r.Matchers {
		s[i] = m.String()
	}
	return strings.Join(s, ", ")
}

// Route returns the first rule of rules (sorted by position) that applies,
// or nil: then the alert goes to the inbox.
func Route(rules []Rule, integration string, a *Alert) *Rule {
	for i := range rules {
		if rules[i].Matches(integration, a) {
			return &rules[i]
		}
	}
	return nil
}
