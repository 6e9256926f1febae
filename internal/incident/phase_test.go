package incident

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

func code(err error) string {
	if err == nil {
		return ""
	}
	if p, ok := problem.As(err); ok {
		return p.Code
	}
	return "not a problem: " + err.Error()
}

// Every ordered pair of phases: only the next phase, or a reopen to active
// with a reason, is allowed.
func TestDecideEveryPair(t *testing.T) {
	for _, from := range Phases {
		for _, to := range Phases {
			t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
				inc := &Incident{Number: 7, Phase: from, DetectionSource: SourceAlert}
				req := TransitionRequest{To: to, Note: "did it", Reason: "it came back"}
				move, err := Decide(inc, nil, req)
				next, _ := from.Next()
				switch {
				case to == next:
					if err != nil || move != Advance {
						t.Fatalf("want advance, got %v %v", move, err)
					}
				case to == Active && from != Active:
					if err != nil || move != Reopen {
						t.Fatalf("want reopen, got %v %v", move, err)
					}
				default:
					if code(err) != "phase_skip" {
						t.Fatalf("want phase_skip, got %q", code(err))
					}
					p, _ := problem.As(err)
					if p.Kind != problem.Conflict || p.Detail["phase"] != from {
						t.Fatalf("want 409 with current phase, got %+v", p)
					}
				}
			})
		}
	}
}

func TestDecideRules(t *testing.T) {
	open := []ChecklistItem{
		{Text: "send missing messages", Phase: Mitigated},
		{Text: "done already", Phase: Active, Done: true},
		{Text: "document recovery", Phase: Resolved},
	}
	tests := []struct {
		name   string
		inc    Incident
		items  []ChecklistItem
		req    TransitionRequest
		want   string
		wantMv Move
	}{
		{"empty note", Incident{Phase: Active}, nil, TransitionRequest{To: Mitigated, Note: "  "}, "note_required", 0},
		{"reopen without reason", Incident{Phase: Resolved}, nil, TransitionRequest{To: Active, Note: "x"}, "reason_required", 0},
		{"reopen closed", Incident{Phase: Closed}, nil, TransitionRequest{To: Active, Reason: "regressed"}, "", Reopen},
		{"items of other phases do not block", Incident{Phase: Active}, open, TransitionRequest{To: Mitigated, Note: "n"}, "", Advance},
		{"open item blocks", Incident{Phase: Mitigated}, open, TransitionRequest{To: Resolved, Note: "n"}, "checklist_open", 0},
		{"override", Incident{Phase: Mitigated}, open, TransitionRequest{To: Resolved, Note: "n", Override: true}, "", Advance},
		{"customer close needs improvement", Incident{Phase: Resolved, DetectionSource: SourceCustomer}, nil, TransitionRequest{To: Closed, Note: "n"}, "detection_improvement_required", 0},
		{"team close needs improvement", Incident{Phase: Resolved, DetectionSource: SourceTeam}, nil, TransitionRequest{To: Closed, Note: "n"}, "detection_improvement_required", 0},
		{"customer close with improvement", Incident{Phase: Resolved, DetectionSource: SourceCustomer}, nil, TransitionRequest{To: Closed, Note: "n", DetectionImprovement: "alert on CA issuer"}, "", Advance},
		{"improvement recorded earlier", Incident{Phase: Resolved, DetectionSource: SourceTeam, DetectionImprovement: "probe"}, nil, TransitionRequest{To: Closed, Note: "n"}, "", Advance},
		{"alert close needs nothing", Incident{Phase: Resolved, DetectionSource: SourceAlert}, nil, TransitionRequest{To: Closed, Note: "n"}, "", Advance},
		{"phase skip beats missing note", Incident{Phase: Active}, nil, TransitionRequest{To: Closed}, "phase_skip", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mv, err := Decide(&tt.inc, tt.items, tt.req)
			if code(err) != tt.want || mv != tt.wantMv {
				t.Fatalf("got %v %q, want %v %q", mv, code(err), tt.wantMv, tt.want)
			}
		})
	}
}

func TestDetectionImprovementMessageSaysWhy(t *testing.T) {
	_, err := Decide(&Incident{Number: 3, Phase: Resolved, DetectionSource: SourceCustomer}, nil, TransitionRequest{To: Closed, Note: "n"})
	p, _ := problem.As(err)
	if p == nil || p.Kind != problem.Unprocessable {
		t.Fatalf("want 422, got %v", err)
	}
	for _, want := range []string{"customer", "monitoring", "detection_improvement"} {
		if !contains(p.Message, want) {
			t.Errorf("message %q does not mention %q", p.Message, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestApply(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	inc := &Incident{Phase: Active, EnteredAt: map[Phase]time.Time{Active: t0}}
	steps := []TransitionRequest{
		{To: Mitigated, Note: "restored previous certificate"},
		{To: Resolved, Note: "re-requested from public CA"},
	}
	for i, req := range steps {
		Apply(inc, Advance, req, t0.Add(time.Duration(i+1)*time.Hour))
	}
	if inc.Phase != Resolved || inc.Notes[Mitigated] != steps[0].Note || inc.EnteredAt[Resolved] != t0.Add(2*time.Hour) {
		t.Fatalf("after advance: %+v", inc)
	}
	inc.AlertsResolved = true
	Apply(inc, Reopen, TransitionRequest{To: Active, Reason: "broke again"}, t0.Add(3*time.Hour))
	if inc.Phase != Active || len(inc.Notes) != 0 || len(inc.EnteredAt) != 1 || inc.AlertsResolved {
		t.Fatalf("after reopen: %+v", inc)
	}
}

// Merged and cancelled incidents, in every phase they can be left in,
// answer every transition: a merged one never moves, a cancelled one only
// reopens to active with a reason.
func TestDecideEnded(t *testing.T) {
	for _, end := range EndStates {
		for _, from := range []Phase{Active, Mitigated, Resolved} {
			for _, to := range Phases {
				inc := &Incident{Number: 7, Phase: from, EndState: end, MergedInto: 3}
				move, err := Decide(inc, nil, TransitionRequest{To: to, Note: "n", Reason: "r"})
				want := "incident_merged"
				if end == Cancelled {
					want = "incident_cancelled"
					if to == Active {
						want = ""
					}
				}
				if code(err) != want || (want == "" && move != Reopen) {
					t.Errorf("%s in %s → %s: %v %q, want %q", end, from, to, move, code(err), want)
				}
			}
		}
	}
	if _, err := Decide(&Incident{Number: 7, Phase: Active, EndState: Cancelled}, nil, TransitionRequest{To: Active}); code(err) != "reason_required" {
		t.Errorf("reopen of a cancelled incident without a reason: %q", code(err))
	}
	inc := &Incident{Number: 7, Phase: Mitigated, EndState: Cancelled, EndReason: "x", EndedAt: time.Now(),
		EnteredAt: map[Phase]time.Time{Active: time.Now(), Mitigated: time.Now()}, Notes: map[Phase]string{Mitigated: "m"}}
	Apply(inc, Reopen, TransitionRequest{To: Active, Reason: "real"}, time.Now())
	if inc.Ended() || inc.Phase != Active || len(inc.Notes) != 0 || !inc.EndedAt.IsZero() {
		t.Errorf("after reopening a cancelled incident: %+v", inc)
	}
}

func TestDecideCancelAndMerge(t *testing.T) {
	live := func(n int64, ph Phase, vis Visibility) *Incident {
		return &Incident{Number: n, Phase: ph, Visibility: vis}
	}
	ended := func(n int64, e EndState) *Incident {
		return &Incident{Number: n, Phase: Active, Visibility: Public, EndState: e, MergedInto: 9}
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"cancel active", DecideCancel(live(1, Active, Public), "r"), ""},
		{"cancel mitigated", DecideCancel(live(1, Mitigated, Public), "r"), ""},
		{"cancel resolved", DecideCancel(live(1, Resolved, Public), "r"), "cancel_not_allowed"},
		{"cancel closed", DecideCancel(live(1, Closed, Public), "r"), "cancel_not_allowed"},
		{"cancel without a reason", DecideCancel(live(1, Active, Public), " "), "reason_required"},
		{"cancel a cancelled one", DecideCancel(ended(1, Cancelled), "r"), "incident_cancelled"},
		{"cancel a merged one", DecideCancel(ended(1, Merged), "r"), "incident_merged"},
		{"merge", DecideMerge(live(1, Resolved, Public), live(2, Active, Public), "r"), ""},
		{"public into confidential", DecideMerge(live(1, Active, Public), live(2, Mitigated, Confidential), "r"), ""},
		{"confidential into confidential", DecideMerge(live(1, Active, Confidential), live(2, Active, Confidential), "r"), ""},
		{"confidential into public", DecideMerge(live(1, Active, Confidential), live(2, Active, Public), "r"), "confidential_into_public"},
		{"into itself", DecideMerge(live(1, Active, Public), live(1, Active, Public), "r"), "merge_into_itself"},
		{"into a merged one", DecideMerge(live(1, Active, Public), ended(2, Merged), "r"), "target_merged"},
		{"into a cancelled one", DecideMerge(live(1, Active, Public), ended(2, Cancelled), "r"), "target_cancelled"},
		{"into a closed one", DecideMerge(live(1, Active, Public), live(2, Closed, Public), "r"), "target_closed"},
		{"a merged one", DecideMerge(ended(1, Merged), live(2, Active, Public), "r"), "incident_merged"},
		{"a cancelled one", DecideMerge(ended(1, Cancelled), live(2, Active, Public), "r"), "incident_cancelled"},
		{"a closed one", DecideMerge(live(1, Closed, Public), live(2, Active, Public), "r"), "merge_not_allowed"},
		{"without a reason", DecideMerge(live(1, Active, Public), live(2, Active, Public), ""), "reason_required"},
	} {
		if code(c.err) != c.want {
			t.Errorf("%s: %q, want %q", c.name, code(c.err), c.want)
		}
	}
}
