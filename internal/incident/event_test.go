package incident

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

func TestSentence(t *testing.T) {
	long := strings.Repeat("é", 70) // 140 bytes on one line
	tests := []struct {
		name string
		kind EventKind
		data map[string]any
		body string
		want string
	}{
		{"created", EventCreated, map[string]any{"title": "Checkout down"}, "", `opened "Checkout down"`},
		{"transitioned", EventTransitioned, map[string]any{"from": Active, "to": Mitigated, "note": "rolled back"}, "",
			"moved active → mitigated: rolled back"},
		{"transitioned over open items", EventTransitioned, map[string]any{"from": Mitigated, "to": Resolved, "note": "fixed",
			"override": true, "open_items": []string{"send missing messages"}}, "",
			"moved mitigated → resolved: fixed (overriding open items: [send missing messages])"},
		{"closed with a detection improvement", EventTransitioned, map[string]any{"from": Resolved, "to": Closed, "note": "done",
			"detection_improvement": "probe card payments"}, "",
			"moved resolved → closed: done; detection improvement: probe card payments"},
		{"reopened", EventReopened, map[string]any{"from": Resolved, "to": Active, "reason": "errors are back"}, "",
			"reopened from resolved: errors are back"},
		{"update posted, body shown", EventUpdatePosted, map[string]any{"visibility": Public}, "Rolled back.\nMore later.",
			"posted a public update: Rolled back."},
		{"update posted, long first line cut on a rune", EventUpdatePosted, map[string]any{"visibility": Internal}, long,
			"posted an internal update: " + strings.Repeat("é", 60) + "…"},
		{"update posted, body hidden", EventUpdatePosted, map[string]any{"visibility": Internal}, "",
			"posted an internal update"},
		{"update visibility", EventUpdateVisibility, map[string]any{"from": Internal, "to": Public}, "", "made an update public"},
		{"changed, fields in order", EventChanged, map[string]any{"title": Change{"a", "b"}, "detection_source": Change{"team", "alert"}}, "",
			"changed detection source, title"},
		{"checklist added", EventChecklistAdded, map[string]any{"phase": Mitigated, "text": "send missing messages"}, "",
			"added a checklist item for mitigated: send missing messages"},
		{"ticked", EventChecklistChanged, map[string]any{"text": "fix config", "done": true}, "", "ticked: fix config"},
		{"unticked", EventChecklistChanged, map[string]any{"text": "fix config", "done": false}, "", "unticked: fix config"},
		{"checklist reworded", EventChecklistChanged, map[string]any{"text": Change{"fix cfg", "fix config"}}, "",
			"reworded a checklist item: fix cfg → fix config"},
		{"checklist item given to someone", EventChecklistChanged, map[string]any{"text": "fix config", "owner": map[string]any{"from": "", "to": "cy"}}, "",
			"changed the owner of a checklist item (nobody → cy): fix config"},
		{"owners changed, named", EventChanged, map[string]any{"owner_mitigated": Change{"bo", "cy"}, "owner_active": map[string]any{"from": nil, "to": "ana"}}, "",
			"owners active: nobody → ana, mitigated: bo → cy"},
		{"owner and a field changed", EventChanged, map[string]any{"severity": Change{"minor", "major"}, "owner_resolved": Change{"bo", ""}}, "",
			"changed severity; owners resolved: bo → nobody"},
		{"checklist from a template", EventChecklistAdded, map[string]any{"template": "database", "count": 2.0, "phase": "active and resolved"}, "",
			`added 2 checklist items for active and resolved from the template "database"`},
		{"checklist removed", EventChecklistRemoved, map[string]any{"text": "fix config"}, "", "removed a checklist item: fix config"},
		{"link added", EventLinkAdded, map[string]any{"kind": LinkMergeRequest, "url": "https://git.example.com/mr/7"}, "",
			"linked merge request https://git.example.com/mr/7"},
		{"link removed", EventLinkRemoved, map[string]any{"url": "https://git.example.com/mr/7"}, "",
			"removed the link https://git.example.com/mr/7"},
		{"alert attached", EventAlertAttached, map[string]any{"title": "DiskFull", "status": "firing"}, "", "alert attached: DiskFull (firing)"},
		{"alert fired again", EventAlertAttached, map[string]any{"title": "DiskFull", "status": "firing", "again": true}, "",
			"alert fired again: DiskFull"},
		{"alerts of one delivery", EventAlertAttached, map[string]any{"title": "DiskFull", "status": "firing", "count": 3.0}, "",
			"3 alerts attached: DiskFull and 2 more"},
		{"alerts left out by the sender", EventAlertAttached, map[string]any{"title": "DiskFull", "status": "firing", "count": 2,
			"truncated_alerts": int64(7)}, "", "2 alerts attached: DiskFull and 1 more; the sender left out 7 more of the group"},
		{"alerts resolved", EventAlertsResolved, map[string]any{}, "", "every attached alert has resolved: mitigated?"},
		{"attachment", EventAttachmentAdded, map[string]any{"filename": "graph.png"}, "", "attached graph.png"},
		{"merged", EventMerged, map[string]any{"into": 12.0, "reason": "same outage"}, "", "merged into #12: same outage"},
		{"merged from", EventMergedFrom, map[string]any{"from": 14.0, "reason": "same outage", "alerts": 3.0, "links": 1.0,
			"checklist_items": 0.0, "attachments": 2.0}, "",
			"merged #14 into this incident (3 alerts, 1 links, 0 checklist items, 2 attachments moved; its updates stay on #14): same outage"},
		{"cancelled", EventCancelled, map[string]any{"from": "mitigated", "reason": "a load test"}, "", "cancelled (was mitigated): a load test"},
		{"reviewed", EventReviewed, map[string]any{"review": 3.0, "decision": "follow up: add CA monitoring"}, "",
			"weekly review #3 decided: follow up: add CA monitoring"},
		{"created without its title (a viewer's timeline)", EventCreated, map[string]any{"title": nil}, "", "opened the incident"},
		{"missing data reads as empty", EventLinkRemoved, map[string]any{"url": nil}, "", "removed the link "},
		{"published", EventChanged, map[string]any{"on_status_page": Change{false, true}, "status_title": Change{"", "Checkout slow"}}, "",
			"published the incident on the status page"},
		{"published, as read back", EventChanged, map[string]any{"on_status_page": map[string]any{"from": false, "to": true}}, "",
			"published the incident on the status page"},
		{"unpublished", EventChanged, map[string]any{"on_status_page": Change{true, false}}, "", "took the incident off the status page"},
		{"link made public", EventLinkVisibility, map[string]any{"url": "https://status.example.com", "to": Public}, "",
			"made the link https://status.example.com public"},
		{"checklist item made internal", EventChecklistVisibility, map[string]any{"text": "fix config", "to": Internal}, "",
			"made a checklist item internal: fix config"},
		{"unknown kind names itself", "retitled", nil, "", "retitled"},
	}
	seen := map[EventKind]bool{}
	for _, tt := range tests {
		seen[tt.kind] = true
		t.Run(tt.name, func(t *testing.T) {
			e := &Event{Kind: tt.kind, Data: tt.data}
			if got := e.Sentence(tt.body); got != tt.want {
				t.Errorf("Sentence = %q\n       want %q", got, tt.want)
			}
		})
	}
	for _, k := range eventKinds(t) {
		if !seen[k] {
			t.Errorf("event kind %q has no sentence test", k)
		}
	}
}

// eventKinds reads every EventKind constant declared in event.go, so a new
// kind without a sentence test fails above.
func eventKinds(t *testing.T) []EventKind {
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []EventKind
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "EventKind" {
				continue
			}
			for _, val := range v.Values {
				lit, ok := val.(*ast.BasicLit)
				if !ok {
					t.Fatalf("EventKind constant with a value that is not a literal: %T", val)
				}
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, EventKind(s))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no EventKind constants found in event.go")
	}
	return out
}
