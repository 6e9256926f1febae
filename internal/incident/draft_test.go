package incident

import (
	"reflect"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/problem"
)

func ptr[T any](v T) *T { return &v }

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		draft   Draft
		want    Draft  // compared when wantErr is empty
		wantErr string // part of the message
	}{
		{"defaults: public, major, found by the team",
			Draft{Title: "Checkout down"},
			Draft{Title: "Checkout down", Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{}, Labels: map[string]string{}}, ""},
		{"title on one line, trimmed and cleaned",
			Draft{Title: "  Checkout\ndown\x00 ", Severity: Critical, DetectionSource: SourceAlert, Visibility: Confidential},
			Draft{Title: "Checkout down\uFFFD", Severity: Critical, DetectionSource: SourceAlert, Visibility: Confidential, Services: []string{}, Labels: map[string]string{}}, ""},
		{"long title cut",
			Draft{Title: strings.Repeat("t", MaxTitleBytes+10)},
			Draft{Title: strings.Repeat("t", MaxTitleBytes), Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{}, Labels: map[string]string{}}, ""},
		{"summary keeps its lines",
			Draft{Title: "x", Summary: "line 1\nline 2\x00"},
			Draft{Title: "x", Summary: "line 1\nline 2\uFFFD", Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{}, Labels: map[string]string{}}, ""},
		{"services cleaned, deduplicated, sorted, blanks dropped",
			Draft{Title: "x", Services: []string{"web", " api ", "", "web", "  "}},
			Draft{Title: "x", Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{"api", "web"}, Labels: map[string]string{}}, ""},
		{"labels cleaned",
			Draft{Title: "x", Labels: map[string]string{" env ": "prod\n1"}},
			Draft{Title: "x", Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{}, Labels: map[string]string{"env": "prod 1"}}, ""},
		{"owners of open phases",
			Draft{Title: "x", Owners: map[Phase]string{Active: "ana", Resolved: "bo"}},
			Draft{Title: "x", Severity: Major, DetectionSource: SourceTeam, Visibility: Public, Services: []string{}, Labels: map[string]string{}, Owners: map[Phase]string{Active: "ana", Resolved: "bo"}}, ""},
		{"no title", Draft{Title: " \n\t"}, Draft{}, "title is required"},
		{"summary too long", Draft{Title: "x", Summary: strings.Repeat("s", MaxSummaryBytes+1)}, Draft{}, "summary is longer than"},
		{"too many services", Draft{Title: "x", Services: manyNames(MaxServices + 1)}, Draft{}, "at most 20 services"},
		{"too many labels", Draft{Title: "x", Labels: manyLabels(MaxLabels + 1)}, Draft{}, "at most 64 labels"},
		{"empty label name", Draft{Title: "x", Labels: map[string]string{" ": "v"}}, Draft{}, "label names cannot be empty"},
		{"unknown severity", Draft{Title: "x", Severity: "sev1"}, Draft{}, `unknown severity "sev1"`},
		{"unknown detection source", Draft{Title: "x", DetectionSource: "pager"}, Draft{}, `unknown detection_source "pager"`},
		{"internal is for updates, not incidents", Draft{Title: "x", Visibility: Internal}, Draft{}, `unknown visibility "internal"`},
		{"closed has no owner", Draft{Title: "x", Owners: map[Phase]string{Closed: "ana"}}, Draft{}, `phase "closed" has no owner`},
		{"owner with a space", Draft{Title: "x", Owners: map[Phase]string{Active: "ana bo"}}, Draft{}, "owner of active is not a user name"},
		{"owner too long", Draft{Title: "x", Owners: map[Phase]string{Mitigated: strings.Repeat("a", MaxUsernameBytes+1)}}, Draft{}, "owner of mitigated is not a user name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.draft
			err := d.Normalize()
			if tt.wantErr != "" {
				if code(err) != "validation_failed" || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v (%s), want a validation_failed mentioning %q", err, code(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, tt.want) {
				t.Errorf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestApplyPatch(t *testing.T) {
	base := func() *Incident {
		return &Incident{Number: 4, Title: "Checkout down", Summary: "card payments fail", Severity: Major,
			Services: []string{"checkout"}, Labels: map[string]string{"env": "prod"}, DetectionSource: SourceAlert,
			Visibility: Public, Phase: Mitigated, Owners: map[Phase]string{Active: "ana"}}
	}
	tests := []struct {
		name    string
		patch   Patch
		want    map[string]Change
		after   func(*Incident) // the expected incident, from base
		wantErr string
	}{
		{"nothing given", Patch{}, map[string]Change{}, nil, ""},
		{"same values change nothing",
			Patch{Title: ptr(" Checkout down "), Severity: ptr(Major), Services: &[]string{"checkout", "checkout"},
				Labels: &map[string]string{"env": "prod"}, Owners: map[Phase]string{Active: "ana", Mitigated: ""}},
			map[string]Change{}, nil, ""},
		{"every field",
			Patch{Title: ptr("Checkout\ndown for cards"), Summary: ptr("all cards"), Severity: ptr(Critical),
				Services: &[]string{"payments", "checkout"}, Labels: &map[string]string{"env": "prod", "region": "eu"},
				DetectionSource: ptr(SourceCustomer), Visibility: ptr(Confidential), DetectionImprovement: ptr("  probe cards  "),
				Owners: map[Phase]string{Active: "", Mitigated: "bo"}},
			map[string]Change{
				"title":                 {"Checkout down", "Checkout down for cards"},
				"summary":               {"card payments fail", "all cards"},
				"severity":              {Major, Critical},
				"services":              {[]string{"checkout"}, []string{"checkout", "payments"}},
				"labels":                {map[string]string{"env": "prod"}, map[string]string{"env": "prod", "region": "eu"}},
				"detection_source":      {SourceAlert, SourceCustomer},
				"visibility":            {Public, Confidential},
				"detection_improvement": {"", "probe cards"},
				"owner_active":          {"ana", ""},
				"owner_mitigated":       {"", "bo"},
			},
			func(i *Incident) {
				i.Title, i.Summary, i.Severity = "Checkout down for cards", "all cards", Critical
				i.Services, i.Labels = []string{"checkout", "payments"}, map[string]string{"env": "prod", "region": "eu"}
				i.DetectionSource, i.Visibility, i.DetectionImprovement = SourceCustomer, Confidential, "probe cards"
				i.Owners = map[Phase]string{Mitigated: "bo"}
			}, ""},
		{"owner set on an incident without owners",
			Patch{Owners: map[Phase]string{Resolved: "cy"}},
			map[string]Change{"owner_resolved": {"", "cy"}},
			func(i *Incident) { i.Owners[Resolved] = "cy" }, ""},
		// A bad field anywhere leaves every field as it was, even those
		// validated before it.
		{"empty title", Patch{Title: ptr(" "), Summary: ptr("new")}, nil, nil, "title cannot be empty"},
		{"summary too long", Patch{Title: ptr("new"), Summary: ptr(strings.Repeat("s", MaxSummaryBytes+1))}, nil, nil, "summary is longer"},
		{"bad severity after a good title", Patch{Title: ptr("new"), Severity: ptr(Severity("sev1"))}, nil, nil, `unknown severity "sev1"`},
		{"too many services", Patch{Title: ptr("new"), Services: ptr(manyNames(MaxServices + 1))}, nil, nil, "at most 20 services"},
		{"empty label name", Patch{Severity: ptr(Minor), Labels: &map[string]string{"": "x"}}, nil, nil, "label names cannot be empty"},
		{"bad detection source", Patch{Labels: &map[string]string{"a": "b"}, DetectionSource: ptr(Source("pager"))}, nil, nil, "unknown detection_source"},
		{"bad visibility", Patch{DetectionSource: ptr(SourceOther), Visibility: ptr(Internal)}, nil, nil, `unknown visibility "internal"`},
		{"detection improvement too long", Patch{Visibility: ptr(Confidential), DetectionImprovement: ptr(strings.Repeat("d", MaxNoteBytes+1))}, nil, nil, "detection_improvement is longer"},
		{"bad owner after every other field", Patch{Title: ptr("new"), Summary: ptr("new"), Severity: ptr(Critical),
			Services: &[]string{"x"}, Labels: &map[string]string{"a": "b"}, DetectionSource: ptr(SourceOther),
			Visibility: ptr(Confidential), DetectionImprovement: ptr("probe"),
			Owners: map[Phase]string{Active: "bo", Closed: "cy"}}, nil, nil, `phase "closed" has no owner`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, want := base(), base()
			if tt.after != nil {
				tt.after(want)
			}
			changes, err := ApplyPatch(inc, tt.patch)
			if tt.wantErr != "" {
				if code(err) != "validation_failed" || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v (%s), want a validation_failed mentioning %q", err, code(err), tt.wantErr)
				}
				if changes != nil {
					t.Errorf("changes %v with an error", changes)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(changes, tt.want) {
				t.Errorf("changes:\n got %v\nwant %v", changes, tt.want)
			}
			if !reflect.DeepEqual(inc, want) {
				t.Errorf("incident:\n got %+v\nwant %+v", inc, want)
			}
		})
	}
}

// The patch is the caller's: cleaning it must not write through its
// pointers.
func TestApplyPatchLeavesThePatchAlone(t *testing.T) {
	title, services := "  new\ttitle ", []string{"b", "a", "a"}
	p := Patch{Title: &title, Services: &services}
	if _, err := ApplyPatch(&Incident{Title: "old"}, p); err != nil {
		t.Fatal(err)
	}
	if title != "  new\ttitle " || !reflect.DeepEqual(services, []string{"b", "a", "a"}) {
		t.Errorf("patch changed: %q %v", title, services)
	}
}

// Rule 5 holds after the close: a patch cannot leave a closed incident
// that monitoring missed without a detection improvement, whether it
// changes the source or the improvement.
func TestApplyPatchDetectionImprovement(t *testing.T) {
	tests := []struct {
		name        string
		phase       Phase
		source      Source
		improvement string
		patch       Patch
		want        map[string]Change // nil: refused with detection_improvement_required
	}{
		{"source set back to customer after closing as alert", Closed, SourceAlert, "", Patch{DetectionSource: ptr(SourceCustomer)}, nil},
		{"source set to team with another field", Closed, SourceOther, "", Patch{Title: ptr("new"), DetectionSource: ptr(SourceTeam)}, nil},
		{"improvement cleared", Closed, SourceCustomer, "probe cards", Patch{DetectionImprovement: ptr("")}, nil},
		{"improvement blanked", Closed, SourceTeam, "probe cards", Patch{DetectionImprovement: ptr(" \n\t ")}, nil},
		{"source to customer with an improvement", Closed, SourceAlert, "", Patch{DetectionSource: ptr(SourceCustomer), DetectionImprovement: ptr("probe cards")},
			map[string]Change{"detection_source": {SourceAlert, SourceCustomer}, "detection_improvement": {"", "probe cards"}}},
		{"improvement rewritten", Closed, SourceCustomer, "probe cards", Patch{DetectionImprovement: ptr("alert on declined cards")},
			map[string]Change{"detection_improvement": {"probe cards", "alert on declined cards"}}},
		{"source to alert", Closed, SourceCustomer, "", Patch{DetectionSource: ptr(SourceAlert)},
			map[string]Change{"detection_source": {SourceCustomer, SourceAlert}}},
		{"cleared where an alert found it", Closed, SourceAlert, "probe cards", Patch{DetectionImprovement: ptr("")},
			map[string]Change{"detection_improvement": {"probe cards", ""}}},
		{"cleared before the close", Resolved, SourceCustomer, "probe cards", Patch{DetectionImprovement: ptr("")},
			map[string]Change{"detection_improvement": {"probe cards", ""}}},
		// An incident closed without one before the rule held keeps its
		// other fields editable, the web form's unchanged ones included.
		{"other fields of one closed without", Closed, SourceCustomer, "", Patch{Title: ptr("new"), DetectionSource: ptr(SourceCustomer), DetectionImprovement: ptr("")},
			map[string]Change{"title": {"Checkout down", "new"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := func() *Incident {
				return &Incident{Number: 16, Title: "Checkout down", Severity: Major, Visibility: Public,
					Phase: tt.phase, DetectionSource: tt.source, DetectionImprovement: tt.improvement}
			}
			inc := base()
			changes, err := ApplyPatch(inc, tt.patch)
			if tt.want == nil {
				if code(err) != "detection_improvement_required" || problem.HTTPStatus(err.(*problem.Error).Kind) != 422 {
					t.Fatalf("err = %v (%s), want 422 detection_improvement_required", err, code(err))
				}
				if changes != nil || !reflect.DeepEqual(inc, base()) {
					t.Fatalf("refused patch changed %v: %+v", changes, inc)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(changes, tt.want) {
				t.Fatalf("changes %v, err %v; want %v", changes, err, tt.want)
			}
		})
	}
}

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("s", i+1)
	}
	return out
}

func manyLabels(n int) map[string]string {
	out := map[string]string{}
	for _, k := range manyNames(n) {
		out[k] = "v"
	}
	return out
}

// Publishing to the status page is explicit, never for a confidential
// incident, and undone when an incident becomes confidential.
func TestApplyPatchPublishing(t *testing.T) {
	tests := []struct {
		name      string
		published bool
		vis       Visibility
		patch     Patch
		want      map[string]Change
		on        bool
		wantErr   string // code
	}{
		{"publish with a customer-facing title", false, Public, Patch{OnStatusPage: ptr(true), StatusTitle: ptr(" Card\npayments fail ")},
			map[string]Change{"on_status_page": {false, true}, "status_title": {"", "Card payments fail"}}, true, ""},
		{"title only", true, Public, Patch{StatusTitle: ptr("Slow")}, map[string]Change{"status_title": {"", "Slow"}}, true, ""},
		{"take off", true, Public, Patch{OnStatusPage: ptr(false)}, map[string]Change{"on_status_page": {true, false}}, false, ""},
		{"not a confidential incident", false, Confidential, Patch{OnStatusPage: ptr(true)}, nil, false, "confidential_unpublishable"},
		{"nor one made confidential at once", false, Public, Patch{OnStatusPage: ptr(true), Visibility: ptr(Confidential)}, nil, false,
			"confidential_unpublishable"},
		{"made public and published at once", false, Confidential, Patch{OnStatusPage: ptr(true), Visibility: ptr(Public)},
			map[string]Change{"on_status_page": {false, true}, "visibility": {Confidential, Public}}, true, ""},
		{"made confidential: taken off", true, Public, Patch{Visibility: ptr(Confidential)},
			map[string]Change{"on_status_page": {true, false}, "visibility": {Public, Confidential}}, false, ""},
		{"other fields leave it", true, Public, Patch{Severity: ptr(Critical)}, map[string]Change{"severity": {Major, Critical}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := &Incident{Title: "payments-db OOM", Severity: Major, Visibility: tt.vis, OnStatusPage: tt.published}
			changes, err := ApplyPatch(inc, tt.patch)
			if tt.wantErr != "" {
				if code(err) != tt.wantErr || inc.OnStatusPage != tt.published || inc.Visibility != tt.vis {
					t.Fatalf("err %v (%s), on %v; want %s and nothing changed", err, code(err), inc.OnStatusPage, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(changes, tt.want) || inc.OnStatusPage != tt.on {
				t.Fatalf("changes %v, on %v, err %v; want %v, on %v", changes, inc.OnStatusPage, err, tt.want, tt.on)
			}
		})
	}
}
