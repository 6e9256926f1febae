package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

// Phase of an incident. Phases are entered in order and none may be skipped.
type Phase string

const (
	Active    Phase = "active"    // reduce the impact
	Mitigated Phase = "mitigated" // fix the direct cause
	Resolved  Phase = "resolved"  // improve on the root cause
	Closed    Phase = "closed"
)

// Phases in the only order they may be entered.
var Phases = []Phase{Active, Mitigated, Resolved, Closed}

// OwnedPhases are the phases that have an owner: the person who gets the
// incident to the next phase. A closed incident has nowhere left to go.
var OwnedPhases = []Phase{Active, Mitigated, Resolved}

// ParsePhase checks a phase name.
func ParsePhase(s string) (Phase, error) {
	p := Phase(s)
	if !slices.Contains(Phases, p) {
		return "", problem.New(problem.Invalid, "invalid_phase", "unknown phase %q: want one of %s", s, joinPhases(Phases))
	}
	return p, nil
}

// Next returns the phase after p, or false for closed.
func (p Phase) Next() (Phase, bool) {
	i := slices.Index(Phases, p)
	if i < 0 || i == len(Phases)-1 {
		return "", false
	}
	return Phases[i+1], true
}

// Title is the human name of the phase.
func (p Phase) Title() string {
	if p == "" {
		return ""
	}
	return strings.ToUpper(string(p[:1])) + string(p[1:])
}

// Goal says what work the phase is about, as the talk puts it.
func (p Phase) Goal() string {
	switch p {
	case Active:
		return "reduce the impact"
	case Mitigated:
		return "resolve the direct cause"
	case Resolved:
		return "improve on the root cause"
	}
	return "done"
}

// NoteName names the note that completes the move into p.
func (p Phase) NoteName() string {
	switch p {
	case Mitigated:
		return "mitigation"
	case Resolved:
		return "fix of the direct cause"
	case Closed:
		return "root-cause improvement"
	}
	return "note"
}

// Move is what a transition does.
type Move int

const (
	Advance Move = iota + 1 // to the next phase
	Reopen                  // back to active after a regression
)

// TransitionRequest asks to move an incident to another phase.
type TransitionRequest struct {
	To   Phase
	Note string
	// Override lets a responder leave a phase with open checklist items;
	// the override and the items are recorded in the timeline.
	Override bool
	// DetectionImprovement says how monitoring will catch the problem next
	// time; required to close customer- or team-detected incidents.
	DetectionImprovement string
	// Reason explains a reopen.
	Reason string
}

// Limits for transition texts.
const (
	MaxNoteBytes = 16 << 10
)

// Decide applies the lifecycle rules to one requested transition. open holds
// the incident's checklist items that are not done. It changes nothing; the
// caller persists the result guarded by the incident's current phase, so two
// racing transitions cannot both win.
func Decide(inc *Incident, open []ChecklistItem, req TransitionRequest) (Move, error) {
	from := inc.Phase
	switch inc.EndState {
	case Merged:
		return 0, mergedError(inc)
	case Cancelled:
		if req.To != Active {
			return 0, problem.New(problem.Conflict, "incident_cancelled",
				"incident #%d was cancelled; reopen it (to active, with a reason) if it turned out to be real", inc.Number).With("end_state", inc.EndState)
		}
		if strings.TrimSpace(req.Reason) == "" {
			return 0, problem.New(problem.Unprocessable, "reason_required",
				"reopening cancelled incident #%d needs a reason: why is it real after all?", inc.Number).With("end_state", inc.EndState)
		}
		return Reopen, nil
	}
	if req.To == Active {
		if from == Active {
			return 0, skip(inc, req.To)
		}
		if strings.TrimSpace(req.Reason) == "" {
			return 0, problem.New(problem.Unprocessable, "reason_required",
				"reopening incident #%d needs a reason: what regressed?", inc.Number).With("phase", from)
		}
		return Reopen, nil
	}
	next, ok := from.Next()
	if !ok || req.To != next {
		return 0, skip(inc, req.To)
	}
	if strings.TrimSpace(req.Note) == "" {
		return 0, problem.New(problem.Unprocessable, "note_required",
			"moving incident #%d to %s needs a note: the %s", inc.Number, req.To, req.To.NoteName()).With("phase", from)
	}
	if blocking := itemsOf(open, from); len(blocking) > 0 && !req.Override {
		texts := make([]string, len(blocking))
		for i, it := range blocking {
			texts[i] = it.Text
		}
		return 0, problem.New(problem.Conflict, "checklist_open",
			"incident #%d has %d open checklist item(s) for the %s phase: %s; finish them or override",
			inc.Number, len(blocking), from, strings.Join(texts, "; ")).With("phase", from).With("open_items", texts)
	}
	if req.To == Closed && inc.DetectionSource.NeedsDetectionImprovement() &&
		strings.TrimSpace(req.DetectionImprovement) == "" && strings.TrimSpace(inc.DetectionImprovement) == "" {
		return 0, improvementRequired(inc, inc.DetectionSource, "closing it needs")
	}
	return Advance, nil
}

// improvementRequired is rule 5's refusal, shared by the close and by a
// patch to a closed incident, so every client sees one code for one rule.
// needs leads up to the improvement, as in "closing it needs".
func improvementRequired(inc *Incident, source Source, needs string) error {
	return problem.New(problem.Unprocessable, "detection_improvement_required",
		"incident #%d was detected by %s, not by monitoring: %s a detection_improvement saying how monitoring will catch it next time",
		inc.Number, source, needs).With("phase", inc.Phase)
}

// itemsOf returns the items of phase p that are not done.
func itemsOf(items []ChecklistItem, p Phase) []ChecklistItem {
	var out []ChecklistItem
	for _, it := range items {
		if it.Phase == p && !it.Done {
			out = append(out, it)
		}
	}
	return out
}

func skip(inc *Incident, to Phase) error {
	msg := fmt.Sprintf("incident #%d is %s; ", inc.Number, inc.Phase)
	if next, ok := inc.Phase.Next(); ok {
		msg += fmt.Sprintf("the only next phase is %s", next)
	} else {
		msg += "it can only be reopened"
	}
	if to == Active {
		msg += " (reopen needs a mitigated, resolved or closed incident)"
	} else {
		msg += fmt.Sprintf(", phases cannot be skipped or repeated (asked for %s)", to)
	}
	return (&problem.Error{Kind: problem.Conflict, Code: "phase_skip", Message: msg}).With("phase", inc.Phase)
}

// Apply records an allowed transition on inc: the new phase, its entry time
// and note. A reopen clears what the later phases had claimed, since the
// regression shows it no longer holds; the timeline keeps the history.
func Apply(inc *Incident, move Move, req TransitionRequest, at time.Time) {
	// A phase is never entered before the incident was opened, entered a
	// phase or ended: the wall clock can be set back (NTP stepping it, a
	// resumed VM, a replica whose clock lags), and a later phase stamped
	// earlier would make the times to mitigate, resolve and close negative
	// and the timeline out of order. Such a move counts as made at the
	// instant of the one before it; the caller stamps its event with
	// inc.UpdatedAt, so the timeline agrees.
	at = notBefore(inc, at)
	inc.Phase = req.To
	if inc.EnteredAt == nil {
		inc.EnteredAt = map[Phase]time.Time{}
	}
	if inc.Notes == nil {
		inc.Notes = map[Phase]string{}
	}
	inc.EnteredAt[req.To] = at
	inc.UpdatedAt = at
	switch move {
	case Advance:
		inc.Notes[req.To] = req.Note
		if req.To == Closed && strings.TrimSpace(req.DetectionImprovement) != "" {
			inc.DetectionImprovement = req.DetectionImprovement
		}
	case Reopen:
		inc.EndState, inc.EndedAt, inc.EndReason = "", time.Time{}, ""
		for _, p := range Phases[1:] {
			delete(inc.EnteredAt, p)
			delete(inc.Notes, p)
		}
		inc.AlertsResolved = false
	}
}

// notBefore returns at, or the latest time inc was opened, entered a phase
// or ended, when that is later.
func notBefore(inc *Incident, at time.Time) time.Time {
	for _, t := range inc.EnteredAt {
		if t.After(at) {
			at = t
		}
	}
	for _, t := range []time.Time{inc.CreatedAt, inc.EndedAt} {
		if t.After(at) {
			at = t
		}
	}
	return at
}

func joinPhases(ps []Phase) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// MaxReasonBytes bounds the reason of a merge or a cancel.
const MaxReasonBytes = MaxNoteBytes

func mergedError(inc *Incident) error {
	return problem.New(problem.Conflict, "incident_merged",
		"incident #%d was merged into #%d; it cannot be moved, cancelled or merged again: work on #%d",
		inc.Number, inc.MergedInto, inc.MergedInto).With("end_state", inc.EndState)
}

// DecideCancel applies the rules for cancelling inc as a false alarm:
// only an active or mitigated incident that has not ended may be
// cancelled, and only with a reason. A resolved incident had a cause that
// was fixed: it was real.
func DecideCancel(inc *Incident, reason string) error {
	switch inc.EndState {
	case Merged:
		return mergedError(inc)
	case Cancelled:
		return problem.New(problem.Conflict, "incident_cancelled", "incident #%d is already cancelled", inc.Number).With("end_state", inc.EndState)
	}
	if inc.Phase != Active && inc.Phase != Mitigated {
		return problem.New(problem.Conflict, "cancel_not_allowed",
			"incident #%d is %s: only an active or mitigated incident can be cancelled; one that was resolved was real", inc.Number, inc.Phase).With("phase", inc.Phase)
	}
	if strings.TrimSpace(reason) == "" {
		return problem.New(problem.Unprocessable, "reason_required", "cancelling incident #%d needs a reason: why was it no incident?", inc.Number)
	}
	return nil
}

// DecideMerge applies the rules for merging src, a duplicate, into dst.
// Neither may have ended; dst may not be closed (reopen it first); src may
// not be closed either, its story is told. A confidential incident goes
// only into a confidential one, so nothing hidden is pulled into a public
// story; a public one may go into a confidential one.
func DecideMerge(src, dst *Incident, reason string) error {
	if src.Number == dst.Number {
		return problem.New(problem.Conflict, "merge_into_itself", "incident #%d cannot be merged into itself", src.Number)
	}
	switch src.EndState {
	case Merged:
		return mergedError(src)
	case Cancelled:
		return problem.New(problem.Conflict, "incident_cancelled", "incident #%d was cancelled; reopen it before merging it", src.Number).With("end_state", src.EndState)
	}
	if src.Phase == Closed {
		return problem.New(problem.Conflict, "merge_not_allowed", "incident #%d is closed; a closed incident is not merged", src.Number).With("phase", src.Phase)
	}
	switch dst.EndState {
	case Merged:
		return problem.New(problem.Conflict, "target_merged",
			"incident #%d was itself merged into #%d; merge into #%d instead", dst.Number, dst.MergedInto, dst.MergedInto).With("end_state", dst.EndState)
	case Cancelled:
		return problem.New(problem.Conflict, "target_cancelled", "incident #%d was cancelled; reopen it before merging into it", dst.Number).With("end_state", dst.EndState)
	}
	if dst.Phase == Closed {
		return problem.New(problem.Conflict, "target_closed", "incident #%d is closed; reopen it before merging into it", dst.Number).With("phase", dst.Phase)
	}
	if src.Confidential() && !dst.Confidential() {
		return problem.New(problem.Unprocessable, "confidential_into_public",
			"confidential incident #%d cannot be merged into public incident #%d: nothing hidden is pulled into a public story", src.Number, dst.Number)
	}
	if strings.TrimSpace(reason) == "" {
		return problem.New(problem.Unprocessable, "reason_required", "merging incident #%d needs a reason: why is it a duplicate?", src.Number)
	}
	return nil
}

// End records an allowed cancel or merge on inc, no earlier than the
// incident was opened or entered its phase (as Apply): the caller stamps
// its event with inc.EndedAt.
func End(inc *Incident, state EndState, into int64, reason string, at time.Time) {
	at = notBefore(inc, at)
	inc.EndState, inc.EndedAt, inc.EndReason, inc.UpdatedAt = state, at, reason, at
	inc.MergedInto = into
	inc.AlertsResolved = false
}
