package review

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// DefaultPeriod is the agenda's period when no review was recorded yet.
const DefaultPeriod = 7 * 24 * time.Hour

// Item is an incident as the agenda lists it.
type Item struct {
	Number   int64             `json:"number"`
	Title    string            `json:"title"`
	Severity incident.Severity `json:"severity"`
	Phase    incident.Phase    `json:"phase"`
	// Owner owns the current phase; "" when nobody does.
	Owner        string `json:"owner"`
	Confidential bool   `json:"confidential"`
	// EndState is "merged" or "cancelled" for an incident that ended
	// beside closed.
	EndState incident.EndState `json:"end_state,omitempty"`
}

// NewItem lists inc.
func NewItem(inc *incident.Incident) Item {
	it := Item{Number: inc.Number, Title: inc.Title, Severity: inc.Severity, Phase: inc.Phase,
		Owner: inc.Owners[inc.Phase], Confidential: inc.Confidential(), EndState: inc.EndState}
	if inc.Ended() {
		it.Owner = ""
	}
	return it
}

// Ended is an incident merged or cancelled in the period: no disruption
// of its own, left out of the figures, but noise worth discussing.
type Ended struct {
	Incident Item              `json:"incident"`
	State    incident.EndState `json:"state"`
	At       time.Time         `json:"at"`
	// Into is the incident it was merged into (0 when cancelled).
	Into   int64  `json:"into,omitempty"`
	Reason string `json:"reason"`
}

// NewEnded lists inc, which ended.
func NewEnded(inc *incident.Incident) Ended {
	return Ended{Incident: NewItem(inc), State: inc.EndState, At: inc.EndedAt, Into: inc.MergedInto, Reason: inc.EndReason}
}

// Line says what became of an ended incident in a few words.
func (e Ended) Line() string {
	if e.State == incident.Merged {
		return fmt.Sprintf("merged into #%d: %s", e.Into, oneLine(e.Reason))
	}
	return fmt.Sprintf("cancelled (was %s): %s", e.Incident.Phase, oneLine(e.Reason))
}

// PhaseChange is one transition or reopen in the period, with its note.
type PhaseChange struct {
	Incident Item           `json:"incident"`
	At       time.Time      `json:"at"`
	Actor    string         `json:"actor"`
	From     incident.Phase `json:"from"`
	To       incident.Phase `json:"to"`
	// Note is the transition's note, or the reason of a reopen.
	Note   string `json:"note"`
	Reopen bool   `json:"reopen"`
}

// Stuck is an incident in its phase for longer than the threshold of the
// incident.stuck nudge.
type Stuck struct {
	Incident  Item      `json:"incident"`
	Since     time.Time `json:"since"`
	For       Seconds   `json:"for_seconds"`
	Threshold Seconds   `json:"threshold_seconds"`
}

// ChecklistEntry is an open checklist item of an incident not closed.
type ChecklistEntry struct {
	Incident Item           `json:"incident"`
	ID       int64          `json:"id"`
	Text     string         `json:"text"`
	Phase    incident.Phase `json:"phase"`
}

// OwnerItems are one person's open checklist items ("" for nobody's).
type OwnerItems struct {
	Owner string           `json:"owner"`
	Items []ChecklistEntry `json:"items"`
}

// DetectionCheck is an incident a customer or the team found, with how
// monitoring will catch it next time ("" while nobody has said).
type DetectionCheck struct {
	Incident    Item            `json:"incident"`
	Source      incident.Source `json:"detection_source"`
	Improvement string          `json:"detection_improvement"`
}

// Agenda is what the weekly review goes through for [Since, Until).
type Agenda struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// LastReview is "last time we decided": the latest review recorded
	// at or before Until, with its decisions; nil when there is none.
	LastReview *Review `json:"last_review"`
	// Opened lists the incidents opened in the period.
	Opened []Item `json:"opened"`
	// PhaseChanges are the transitions and reopens of the period, oldest
	// first.
	PhaseChanges []PhaseChange `json:"phase_changes"`
	// Stuck incidents passed their phase's incident.stuck threshold.
	Stuck []Stuck `json:"stuck"`
	// Unowned incidents are not closed and nobody owns their phase.
	Unowned []Item `json:"unowned"`
	// Checklist holds the open items of incidents not closed, by owner.
	Checklist []OwnerItems `json:"open_checklist"`
	// Detection lists the incidents a customer or the team found that
	// were opened in the period or are not closed.
	Detection []DetectionCheck `json:"detection"`
	// Ended lists the incidents merged or cancelled in the period, in
	// the order they ended: duplicates and false alarms are noise worth
	// discussing too.
	Ended []Ended `json:"ended"`
	// Noise counts the alerts first seen in the period that are part of
	// no incident, by alertname: candidates for a quieter rule.
	Noise []AlertName `json:"noise"`
	// NextMeeting is the next review day, when one is set.
	NextMeeting *time.Time `json:"next_meeting,omitempty"`
}

// Review is a recorded weekly review.
type Review struct {
	ID     int64     `json:"id"`
	HeldAt time.Time `json:"held_at"`
	// Since and Until are the period of the agenda it went through.
	Since      time.Time  `json:"since"`
	Until      time.Time  `json:"until"`
	Attendees  []string   `json:"attendees"`
	Minutes    string     `json:"minutes"`
	RecordedBy string     `json:"recorded_by"`
	Decisions  []Decision `json:"decisions"`
}

// Decision is what a review decided about one incident.
type Decision struct {
	Incident int64 `json:"incident"`
	// Title is the incident's title as it is now.
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Words says how long for people: "9 d 4 h", "5 h", "12 min".
func Words(d time.Duration) string {
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	if days > 0 {
		if hours == 0 {
			return fmt.Sprintf("%d d", days)
		}
		return fmt.Sprintf("%d d %d h", days, hours)
	}
	if hours > 0 {
		return fmt.Sprintf("%d h", hours)
	}
	return fmt.Sprintf("%d min", mins)
}

// oneLine flattens Markdown to one line for a list entry.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

const stamp = "2006-01-02 15:04 UTC"

// Markdown writes the agenda for chat, e-mail and the command line;
// baseURL makes incident links absolute.
func (a *Agenda) Markdown(w io.Writer, baseURL string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	ref := func(it Item) string {
		s := fmt.Sprintf("[#%d](%s/incidents/%d) %s (%s, %s", it.Number, baseURL, it.Number, oneLine(it.Title), it.Severity, it.Phase)
		if it.Owner != "" {
			s += ", owner " + it.Owner
		}
		if it.Confidential {
			s += ", confidential"
		}
		if it.EndState != "" {
			s += ", " + string(it.EndState)
		}
		return s + ")"
	}
	section := func(title string, n int) {
		p("\n## %s (%d)\n\n", title, n)
		if n == 0 {
			p("- none\n")
		}
	}
	p("# Weekly review\n\nPeriod: %s – %s\n", a.Since.UTC().Format(stamp), a.Until.UTC().Format(stamp))
	if a.NextMeeting != nil {
		p("Meeting: %s\n", a.NextMeeting.UTC().Format(stamp))
	}
	if r := a.LastReview; r != nil {
		section(fmt.Sprintf("Last time we decided (review #%d, %s)", r.ID, r.HeldAt.UTC().Format("2006-01-02")), len(r.Decisions))
		for _, d := range r.Decisions {
			p("- [#%d](%s/incidents/%d) %s: %s\n", d.Incident, baseURL, d.Incident, oneLine(d.Title), oneLine(d.Text))
		}
	}
	section("Opened", len(a.Opened))
	for _, it := range a.Opened {
		p("- %s\n", ref(it))
	}
	section("Phase changes", len(a.PhaseChanges))
	for _, c := range a.PhaseChanges {
		verb := fmt.Sprintf("%s → %s", c.From, c.To)
		if c.Reopen {
			verb = "reopened from " + string(c.From)
		}
		p("- %s %s: %s by %s: %s\n", c.At.UTC().Format(stamp), ref(c.Incident), verb, c.Actor, oneLine(c.Note))
	}
	section("Stuck", len(a.Stuck))
	for _, s := range a.Stuck {
		p("- %s: %s for %s (more than %s)\n", ref(s.Incident), s.Incident.Phase, Words(s.For.Duration()), Words(s.Threshold.Duration()))
	}
	section("Without an owner", len(a.Unowned))
	for _, it := range a.Unowned {
		p("- %s\n", ref(it))
	}
	n := 0
	for _, o := range a.Checklist {
		n += len(o.Items)
	}
	section("Open checklist items", n)
	for _, o := range a.Checklist {
		who := o.Owner
		if who == "" {
			who = "nobody"
		}
		p("\n### %s\n\n", who)
		for _, e := range o.Items {
			p("- [#%d](%s/incidents/%d) %s: %s (%s)\n", e.Incident.Number, baseURL, e.Incident.Number, oneLine(e.Incident.Title), oneLine(e.Text), e.Phase)
		}
	}
	section("Found by people, not monitoring", len(a.Detection))
	for _, d := range a.Detection {
		imp := "**no detection improvement yet**"
		if d.Improvement != "" {
			imp = "detection improvement: " + oneLine(d.Improvement)
		}
		p("- %s, found by %s: %s\n", ref(d.Incident), d.Source, imp)
	}
	section("Merged and cancelled", len(a.Ended))
	for _, e := range a.Ended {
		p("- %s %s: %s\n", e.At.UTC().Format(stamp), ref(e.Incident), e.Line())
	}
	section("Noise candidates: alerts without an incident", len(a.Noise))
	for _, x := range a.Noise {
		p("- %s: %d alert(s)\n", oneLine(x.Name), x.Unattached)
	}
}
