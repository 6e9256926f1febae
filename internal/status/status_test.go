package status

import (
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

var now = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func inc(id string, sev incident.Severity, ph incident.Phase, services ...string) *Incident {
	i := &Incident{ID: id, Title: id, Severity: sev, Phase: ph, Services: services, Started: now.Add(-2 * time.Hour)}
	if ph != incident.Active {
		i.Mitigated = now.Add(-time.Hour)
	}
	if ph == incident.Resolved || ph == incident.Closed {
		i.Resolved = now.Add(-30 * time.Minute)
	}
	return i
}

// The state of a component from the published incidents that name one of
// its services, hand-computed for each mix.
func TestComponentState(t *testing.T) {
	shop := &Component{ID: 1, Name: "Shop", Services: []string{"checkout", "payments"}}
	tests := []struct {
		name      string
		incidents []*Incident
		maint     []*Maintenance
		want      State
	}{
		{"nothing", nil, nil, Operational},
		{"active critical", []*Incident{inc("a", incident.Critical, incident.Active, "payments")}, nil, MajorOutage},
		{"active major", []*Incident{inc("a", incident.Major, incident.Active, "checkout")}, nil, PartialOutage},
		{"active minor", []*Incident{inc("a", incident.Minor, incident.Active, "checkout")}, nil, Degraded},
		{"mitigated critical is monitoring", []*Incident{inc("a", incident.Critical, incident.Mitigated, "checkout")}, nil, Monitoring},
		{"resolved is over", []*Incident{inc("a", incident.Critical, incident.Resolved, "checkout")}, nil, Operational},
		{"closed is over", []*Incident{inc("a", incident.Critical, incident.Closed, "checkout")}, nil, Operational},
		{"another service", []*Incident{inc("a", incident.Critical, incident.Active, "search")}, nil, Operational},
		{"no service at all", []*Incident{inc("a", incident.Critical, incident.Active)}, nil, Operational},
		{"worst wins", []*Incident{inc("a", incident.Minor, incident.Active, "checkout"), inc("b", incident.Major, incident.Active, "payments"),
			inc("c", incident.Critical, incident.Mitigated, "checkout")}, nil, PartialOutage},
		{"active minor beats monitoring", []*Incident{inc("a", incident.Critical, incident.Mitigated, "checkout"),
			inc("b", incident.Minor, incident.Active, "payments")}, nil, Degraded},
		{"one of several services", []*Incident{inc("a", incident.Major, incident.Active, "search", "payments")}, nil, PartialOutage},
		{"maintenance in progress", nil, []*Maintenance{{ID: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Components: []int64{1}}}, UnderMaint},
		{"maintenance of all components", nil, []*Maintenance{{ID: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}, UnderMaint},
		{"maintenance of another component", nil, []*Maintenance{{ID: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Components: []int64{2}}}, Operational},
		{"maintenance ahead", nil, []*Maintenance{{ID: 1, Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)}}, Operational},
		{"maintenance over", nil, []*Maintenance{{ID: 1, Start: now.Add(-2 * time.Hour), End: now}}, Operational},
		{"an incident beats maintenance", []*Incident{inc("a", incident.Minor, incident.Active, "checkout")},
			[]*Maintenance{{ID: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}, Degraded},
		{"monitoring beats maintenance", []*Incident{inc("a", incident.Minor, incident.Mitigated, "checkout")},
			[]*Maintenance{{ID: 1, Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}, Monitoring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ComponentState(shop, tt.incidents, tt.maint, now); got != tt.want {
				t.Errorf("state %s, want %s", got, tt.want)
			}
		})
	}
}

// The history marks each day an incident touched: its impact from start
// to mitigation, then monitoring until resolved.
func TestHistory(t *testing.T) {
	c := &Component{ID: 1, Name: "API", Services: []string{"api"}}
	day := func(d int) time.Time { return time.Date(2026, 11, 24-d, 0, 0, 0, 0, time.UTC) } // d days ago
	tests := []struct {
		name string
		inc  *Incident
		want map[int]State // days ago → state; every other day operational
	}{
		{"over within a day", &Incident{ID: "x", Severity: incident.Major, Phase: incident.Closed, Services: []string{"api"},
			Started: day(3).Add(10 * time.Hour), Mitigated: day(3).Add(11 * time.Hour), Resolved: day(3).Add(12 * time.Hour)},
			map[int]State{3: PartialOutage}},
		{"impact over midnight, monitored the next day", &Incident{ID: "x", Severity: incident.Critical, Phase: incident.Resolved,
			Services: []string{"api"}, Started: day(5).Add(23 * time.Hour), Mitigated: day(4).Add(time.Hour), Resolved: day(3).Add(2 * time.Hour)},
			map[int]State{5: MajorOutage, 4: MajorOutage, 3: Monitoring}},
		{"mitigated exactly at midnight", &Incident{ID: "x", Severity: incident.Minor, Phase: incident.Closed, Services: []string{"api"},
			Started: day(2).Add(20 * time.Hour), Mitigated: day(1), Resolved: day(1)},
			map[int]State{2: Degraded, 1: Monitoring}},
		{"still active since two days", &Incident{ID: "x", Severity: incident.Major, Phase: incident.Active, Services: []string{"api"},
			Started: day(2).Add(5 * time.Hour)}, map[int]State{2: PartialOutage, 1: PartialOutage, 0: PartialOutage}},
		{"mitigated, watched until now", &Incident{ID: "x", Severity: incident.Major, Phase: incident.Mitigated, Services: []string{"api"},
			Started: day(1).Add(5 * time.Hour), Mitigated: day(1).Add(6 * time.Hour)}, map[int]State{1: PartialOutage, 0: Monitoring}},
		{"began before the window", &Incident{ID: "x", Severity: incident.Minor, Phase: incident.Closed, Services: []string{"api"},
			Started: day(100), Mitigated: day(88).Add(time.Hour), Resolved: day(88).Add(2 * time.Hour)},
			map[int]State{89: Degraded, 88: Degraded}}, // the worst of the day
		{"another service", &Incident{ID: "x", Severity: incident.Critical, Phase: incident.Active, Services: []string{"db"}, Started: day(1)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(Input{Components: []*Component{c}, Incidents: []*Incident{tt.inc}, Now: now})
			h := p.Components[0].History
			if len(h) != HistoryDays || !h[len(h)-1].Date.Equal(day(0)) || !h[0].Date.Equal(day(HistoryDays-1)) {
				t.Fatalf("history of %d days from %s to %s", len(h), h[0].Date, h[len(h)-1].Date)
			}
			for i, d := range h {
				ago := HistoryDays - 1 - i
				want, touched := tt.want[ago]
				if !touched {
					want = Operational
				}
				if d.State != want || (len(d.Incidents) > 0) != touched {
					t.Errorf("%d days ago: %s with %d incidents, want %s", ago, d.State, len(d.Incidents), want)
				}
			}
		})
	}
}

// The page: components in order under their groups, open incidents newest
// first, past ones by day, maintenance ahead, the overall state, and when
// the page must be computed again.
func TestBuild(t *testing.T) {
	comps := []*Component{
		{ID: 3, Name: "Search", Group: "Shop", Position: 2, Services: []string{"search"}},
		{ID: 1, Name: "API", Position: 0, Services: []string{"api"}},
		{ID: 2, Name: "Checkout", Group: "Shop", Position: 1, Services: []string{"checkout"}},
	}
	old := &Incident{ID: "old", Severity: incident.Major, Phase: incident.Closed, Services: []string{"search"},
		Started: now.AddDate(0, 0, -10), Mitigated: now.AddDate(0, 0, -10).Add(time.Hour), Resolved: now.AddDate(0, 0, -10).Add(2 * time.Hour)}
	open1 := &Incident{ID: "open1", Severity: incident.Minor, Phase: incident.Active, Services: []string{"checkout"}, Started: now.Add(-3 * time.Hour)}
	open2 := &Incident{ID: "open2", Severity: incident.Critical, Phase: incident.Mitigated, Services: []string{"api"},
		Started: now.Add(-time.Hour), Mitigated: now.Add(-time.Minute)}
	ahead := &Maintenance{ID: 7, Title: "upgrade", Start: now.Add(3 * time.Hour), End: now.Add(4 * time.Hour), CreatedAt: now.Add(-time.Hour)}
	gone := &Maintenance{ID: 8, Title: "done", Start: now.Add(-3 * time.Hour), End: now.Add(-2 * time.Hour)}
	p := Build(Input{Settings: Settings{Name: "Acme"}, Components: comps, Incidents: []*Incident{old, open1, open2},
		Maintenance: []*Maintenance{gone, ahead}, Now: now})
	var names []string
	for _, g := range p.Groups {
		names = append(names, "["+g.Name+"]")
		for _, c := range g.Components {
			names = append(names, c.Name)
		}
	}
	if want := []string{"[]", "API", "[Shop]", "Checkout", "Search"}; !slices.Equal(names, want) {
		t.Errorf("groups %v, want %v", names, want)
	}
	if p.Overall != Degraded || p.Components[0].State != Monitoring || p.Components[1].State != Degraded || p.Components[2].State != Operational {
		t.Errorf("overall %s; components %s %s %s", p.Overall, p.Components[0].State, p.Components[1].State, p.Components[2].State)
	}
	if len(p.Open) != 2 || p.Open[0] != open2 || p.Open[1] != open1 {
		t.Errorf("open incidents %v", p.Open)
	}
	if len(p.Past) != 1 || p.Past[0].Incidents[0] != old || !p.Past[0].Date.Equal(time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("past %+v", p.Past)
	}
	if len(p.Maintenance) != 1 || p.Maintenance[0] != ahead || p.InProgress[7] {
		t.Errorf("maintenance %v", p.Maintenance)
	}
	if !p.Expires.Equal(ahead.Start) || !p.Updated.Equal(open2.Mitigated) {
		t.Errorf("expires %s, updated %s", p.Expires, p.Updated)
	}
	if Build(Input{Now: now}).Settings.Name != DefaultName {
		t.Error("no default name")
	}
}
