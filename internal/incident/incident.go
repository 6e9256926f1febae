// Package incident is the heart of Quench: the incident ticket, its four
// phases and the rules for moving between them. It has no I/O; the store
// persists what this package decides and the service wires the two.
package incident

import (
	"time"
)

// Severity of the disruption.
type Severity string

const (
	Critical Severity = "critical"
	Major    Severity = "major"
	Minor    Severity = "minor"
)

// Severities in descending order of urgency.
var Severities = []Severity{Critical, Major, Minor}

// Rank orders severities: critical first.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return len(Severities)
}

// Source says how the team learned of the incident. Closing an incident the
// team's monitoring did not catch needs a detection improvement.
type Source string

const (
	SourceAlert     Source = "alert"
	SourceException Source = "exception"
	SourceCustomer  Source = "customer"
	SourceTeam      Source = "team"
	SourceOther     Source = "other"
)

// Sources lists every detection source.
var Sources = []Source{SourceAlert, SourceException, SourceCustomer, SourceTeam, SourceOther}

// NeedsDetectionImprovement reports whether monitoring missed this incident,
// so closing it must say how monitoring will catch it next time.
func (s Source) NeedsDetectionImprovement() bool {
	return s == SourceCustomer || s == SourceTeam
}

// Visibility of an incident or an update.
type Visibility string

const (
	Public       Visibility = "public"
	Confidential Visibility = "confidential"
	Internal     Visibility = "internal"
)

// Incident is the ticket for one disruption.
type Incident struct {
	Number          int64
	Title           string
	Summary         string // Markdown source
	Severity        Severity
	Services        []string
	Labels          map[string]string
	DetectionSource Source
	Visibility      Visibility // Public or Confidential
	Phase           Phase
	// Owners maps a phase to the user responsible for reaching the next one.
	Owners map[Phase]string
	// EnteredAt holds when each phase reached so far was (last) entered.
	EnteredAt map[Phase]time.Time
	// Notes holds, per phase entered, the note of that transition: the
	// mitigation, the fix of the direct cause, the root-cause improvement.
	Notes                map[Phase]string
	DetectionImprovement string
	// AlertsResolved is set when every alert attached to the active
	// incident has resolved: a hint that it may be mitigated, never a move.
	AlertsResolved bool
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// EndState is set once the incident turned out to be no disruption
	// of its own: a duplicate merged into another, or a false alarm
	// cancelled. Phase then stays the phase it was left in.
	EndState  EndState
	EndedAt   time.Time
	EndReason string
	// MergedInto is the incident it was merged into (0: none, or hidden
	// from a viewer because that incident is confidential).
	MergedInto int64
	// MergedIntoConfidential says the target is confidential: viewers
	// read "merged" and nothing of it.
	MergedIntoConfidential bool
	// MergedIntoTitle is, for the status page only, the customer title
	// of the target when customers see it too.
	MergedIntoTitle string

	// OnStatusPage is set when a responder published the incident to the
	// status page; public alone never puts it there. StatusTitle is the
	// title customers read there ("" shows Title), PublishedAt when it
	// was (last) published.
	OnStatusPage bool
	StatusTitle  string
	PublishedAt  time.Time
}

// EndState is an end beside closed for an incident that was never a
// disruption of its own. It is not a phase: the phase rules do not apply
// to it, and it leaves the board, the figures and the stuck lists.
type EndState string

const (
	Cancelled EndState = "cancelled" // a false alarm, with a reason
	Merged    EndState = "merged"    // a duplicate of another incident
)

// EndStates lists the end states beside closed.
var EndStates = []EndState{Cancelled, Merged}

// Ended reports whether the incident was merged or cancelled.
func (i *Incident) Ended() bool { return i.EndState != "" }

// ForViewers hides from a viewer what a viewer may not know of a merged
// incident: the number of a confidential target, and the reason of the
// merge, which is about that target.
func (i *Incident) ForViewers() {
	if i.MergedIntoConfidential {
		i.MergedInto, i.EndReason = 0, ""
	}
}

// Confidential reports whether viewers must not see the incident at all.
func (i *Incident) Confidential() bool { return i.Visibility == Confidential }

// Published reports whether customers see the incident on the status page:
// published and not confidential.
func (i *Incident) Published() bool { return i.OnStatusPage && !i.Confidential() }

// CustomerTitle is the title the status page shows.
func (i *Incident) CustomerTitle() string {
	if i.StatusTitle != "" {
		return i.StatusTitle
	}
	return i.Title
}

// Update is a Markdown comment on an incident.
type Update struct {
	ID         int64
	Incident   int64
	Author     string
	Body       string
	Visibility Visibility // Internal or Public
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ChecklistItem is an acceptance criterion that belongs to one phase: it
// must be done before that phase is left.
type ChecklistItem struct {
	ID        int64
	Incident  int64
	Text      string
	Phase     Phase
	Owner     string
	Done      bool
	DoneBy    string
	DoneAt    time.Time
	CreatedBy string
	CreatedAt time.Time

	// Visibility is Internal (the default) or Public, like an update's.
	Visibility Visibility
}

// ChecklistProgress counts an incident's checklist items, for the board.
type ChecklistProgress struct{ Done, Total int }

// LinkKind types a link on an incident.
type LinkKind string

const (
	LinkMergeRequest LinkKind = "merge_request"
	LinkDashboard    LinkKind = "dashboard"
	LinkRunbook      LinkKind = "runbook"
	LinkException    LinkKind = "exception"
	LinkChat         LinkKind = "chat"
	LinkOther        LinkKind = "other"
)

// LinkKinds lists every link kind.
var LinkKinds = []LinkKind{LinkMergeRequest, LinkDashboard, LinkRunbook, LinkException, LinkChat, LinkOther}

// Link is a typed reference from an incident.
type Link struct {
	ID        int64
	Incident  int64
	Kind      LinkKind
	URL       string
	Title     string
	CreatedBy string
	CreatedAt time.Time

	// Visibility is Internal (the default) or Public, like an update's.
	Visibility Visibility
}

// Attachment is an uploaded file, screenshots first.
type Attachment struct {
	ID       string // random: not guessable, and still authorised per request
	Incident int64
	// Update is the update it belongs to (0: the incident itself); its
	// visibility is then the update's.
	Update      int64
	Visibility  Visibility
	Filename    string
	ContentType string
	Size        int64
	SHA256      string
	Width       int
	Height      int
	UploadedBy  string
	CreatedAt   time.Time
}

// Inline reports whether browsers may show the file in the page: only
// raster images whose type was sniffed from the content.
func (a *Attachment) Inline() bool {
	switch a.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}
