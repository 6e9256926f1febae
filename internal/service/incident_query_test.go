package service_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// The API list, the incident log, its exports and the board all read their
// filters with ParseIncidentQuery; this is the grammar they share.
func TestParseIncidentQuery(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        service.IncidentQuery
		code        string // the problem's code when refused
	}{
		{"nothing", "", service.IncidentQuery{}, ""},
		{"every filter", "phase=active&service=api&severity=major&owner=ana&label=team%3Dpay&q=%2342&sort=-updated",
			service.IncidentQuery{Phases: []incident.Phase{incident.Active}, Service: "api", Severity: incident.Major,
				Owner: "ana", Label: [2]string{"team", "pay"}, Text: "#42", Sort: "-updated"}, ""},
		{"phases repeated and comma-separated", "phase=active,%20mitigated&phase=closed",
			service.IncidentQuery{Phases: []incident.Phase{incident.Active, incident.Mitigated, incident.Closed}}, ""},
		{"empty values are no filter, as a form's any sends them", "phase=&severity=&label=&sort=&service=&q=",
			service.IncidentQuery{}, ""},
		{"label with an empty value", "label=team%3D", service.IncidentQuery{Label: [2]string{"team", ""}}, ""},
		{"paging is the caller's", "limit=7&offset=3", service.IncidentQuery{}, ""},
		{"unknown phase", "phase=sideways", service.IncidentQuery{}, "invalid_phase"},
		{"empty phase in a list", "phase=active,", service.IncidentQuery{}, "invalid_phase"},
		{"unknown severity", "severity=sev1", service.IncidentQuery{}, "invalid_request"},
		{"label without a value", "label=team", service.IncidentQuery{}, "invalid_request"},
		{"label without a name", "label=%3Dpay", service.IncidentQuery{}, "invalid_request"},
		{"unknown sort", "sort=title", service.IncidentQuery{}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := service.ParseIncidentQuery(v)
			if tc.code != "" {
				if p, ok := problem.As(err); !ok || p.Code != tc.code || problem.HTTPStatus(p.Kind) != 400 {
					t.Fatalf("got %v, want a 400 %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
