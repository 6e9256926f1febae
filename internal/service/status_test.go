package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The status page's component states for mixes of incidents (severity,
// phase, published or not, public or confidential), computed by the whole
// service from the database, against answers worked out by hand. Two
// components: Shop (services checkout, payments) and Search (search).
func TestStatusComponentStates(t *testing.T) {
	type inc struct {
		severity, phase string
		services        []string
		published       bool
		confidential    bool
	}
	pub := func(sev, ph string, services ...string) inc { return inc{sev, ph, services, true, false} }
	tests := []struct {
		name          string
		incidents     []inc
		shop, search  status.State
		overall       status.State
		open, history int // open incidents on the page; days of Shop's history touched
	}{
		{"nothing", nil, status.Operational, status.Operational, status.Operational, 0, 0},
		{"critical active", []inc{pub("critical", "active", "checkout")}, status.MajorOutage, status.Operational, status.MajorOutage, 1, 1},
		{"major active", []inc{pub("major", "active", "payments")}, status.PartialOutage, status.Operational, status.PartialOutage, 1, 1},
		{"minor active", []inc{pub("minor", "active", "search")}, status.Operational, status.Degraded, status.Degraded, 1, 0},
		{"mitigated is monitoring", []inc{pub("critical", "mitigated", "checkout")}, status.Monitoring, status.Operational, status.Monitoring, 1, 1},
		{"resolved is over", []inc{pub("critical", "resolved", "checkout")}, status.Operational, status.Operational, status.Operational, 0, 1},
		{"closed is over", []inc{pub("major", "closed", "search")}, status.Operational, status.Operational, status.Operational, 0, 0},
		{"public but not published", []inc{{"critical", "active", []string{"checkout"}, false, false}},
			status.Operational, status.Operational, status.Operational, 0, 0},
		{"published, then made confidential", []inc{{"critical", "active", []string{"checkout"}, true, true}},
			status.Operational, status.Operational, status.Operational, 0, 0},
		{"the worst of several", []inc{pub("minor", "active", "checkout"), pub("major", "active", "payments"),
			pub("critical", "mitigated", "checkout"), {"critical", "active", []string{"payments"}, false, false}},
			status.PartialOutage, status.Operational, status.PartialOutage, 3, 1},
		{"one incident, two components", []inc{pub("critical", "active", "payments", "search")},
			status.MajorOutage, status.MajorOutage, status.MajorOutage, 1, 1},
		{"a service no component names", []inc{pub("critical", "active", "batch")}, status.Operational, status.Operational, status.MajorOutage, 1, 0},
	}
	steps := map[string][]string{"mitigated": {"mitigated"}, "resolved": {"mitigated", "resolved"}, "closed": {"mitigated", "resolved", "closed"}}
	for _, d := range testenv.Dialects(t) {
		for _, tt := range tests {
			t.Run(string(d)+"/"+tt.name, func(t *testing.T) {
				app := testenv.StartApp(t, d)
				admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
				ana := app.User(t, "ana", auth.RoleResponder)
				app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Shop", "services": []string{"checkout", "payments"}})
				app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Search", "services": []string{"search"}})
				for i, in := range tt.incidents {
					n := i + 1
					app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": fmt.Sprint("incident ", n), "severity": in.severity,
						"services": in.services, "detection_source": "alert"})
					if in.published {
						app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", n), ana, map[string]any{"on_status_page": true})
					}
					for _, ph := range steps[in.phase] {
						app.Must(t, 200, "POST", fmt.Sprintf("/api/v1/incidents/%d/transitions", n), ana, map[string]any{"to": ph, "note": "done"})
					}
					if in.confidential {
						app.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/incidents/%d", n), ana, map[string]any{"visibility": "confidential"})
					}
				}
				p, err := app.Svc.StatusPage(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]status.State{}
				touched := 0
				for _, c := range p.Components {
					got[c.Name] = c.State
					for _, day := range c.History {
						if c.Name == "Shop" && len(day.Incidents) > 0 {
							touched++
						}
					}
				}
				if got["Shop"] != tt.shop || got["Search"] != tt.search || p.Overall != tt.overall || len(p.Open) != tt.open || touched != tt.history {
					t.Errorf("Shop %s, Search %s, overall %s, %d open, %d days; want %s, %s, %s, %d, %d",
						got["Shop"], got["Search"], p.Overall, len(p.Open), touched, tt.shop, tt.search, tt.overall, tt.open, tt.history)
				}
			})
		}
	}
}

// The page computed after each change (reading again only the incidents
// the change touched) is the page a full read gives.
func TestStatusPageFollowsChanges(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
		ana := app.User(t, "ana", auth.RoleResponder)
		app.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Shop", "services": []string{"shop"}})
		// A second service over the same database computes every page
		// from a full read: nothing of this test went through it.
		full := func() *status.Page {
			t.Helper()
			p, err := service.New(app.Store, service.Options{Now: app.Clock.Now}).StatusPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		shape := func(p *status.Page) string {
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s|", p.Settings.Name, p.Overall)
			for _, c := range p.Components {
				fmt.Fprintf(&b, "%s=%s ", c.Name, c.State)
				for _, d := range c.History {
					if len(d.Incidents) > 0 {
						fmt.Fprintf(&b, "%s:%s:%d ", d.Date.Format("01-02"), d.State, len(d.Incidents))
					}
				}
			}
			for _, list := range [][]*status.Incident{p.Open, pastOf(p)} {
				b.WriteString("|")
				for _, i := range list {
					fmt.Fprintf(&b, "%s %s %s %s %d;", i.ID, i.Title, i.Severity, i.Phase, len(i.Updates))
					for _, u := range i.Updates {
						b.WriteString(u.Body + ";")
					}
				}
			}
			return b.String()
		}
		steps := []struct {
			name string
			do   func()
		}{
			{"publish", func() {
				app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "a", "services": []string{"shop"}})
				app.Must(t, 200, "PATCH", "/api/v1/incidents/1", ana, map[string]any{"on_status_page": true, "status_title": "Shop slow"})
			}},
			{"another, not published", func() {
				app.Must(t, 201, "POST", "/api/v1/incidents", ana, map[string]any{"title": "b", "services": []string{"shop"}, "severity": "critical"})
			}},
			{"public update", func() {
				app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", ana, map[string]any{"body": "looking", "visibility": "public"})
			}},
			{"internal update", func() { app.Must(t, 201, "POST", "/api/v1/incidents/1/updates", ana, map[string]any{"body": "secret"}) }},
			{"second published", func() {
				app.Must(t, 200, "PATCH", "/api/v1/incidents/2", ana, map[string]any{"on_status_page": true})
			}},
			{"update withdrawn", func() {
				app.Must(t, 200, "PATCH", "/api/v1/incidents/1/updates/1", ana, map[string]any{"visibility": "internal"})
			}},
			{"retitled", func() {
				app.Must(t, 200, "PATCH", "/api/v1/incidents/1", ana, map[string]any{"status_title": "Shop very slow"})
			}},
			{"mitigated", func() {
				app.Clock.Advance(time.Hour)
				app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", ana, map[string]any{"to": "mitigated", "note": "x"})
			}},
			{"made confidential", func() {
				app.Must(t, 200, "PATCH", "/api/v1/incidents/2", ana, map[string]any{"visibility": "confidential"})
			}},
			{"resolved the next day", func() {
				app.Clock.Advance(24 * time.Hour)
				app.Must(t, 200, "POST", "/api/v1/incidents/1/transitions", ana, map[string]any{"to": "resolved", "note": "x"})
			}},
			{"component renamed", func() {
				app.Must(t, 200, "PATCH", "/api/v1/components/1", admin, map[string]any{"name": "Web shop"})
			}},
			{"settings", func() {
				if _, err := app.Svc.SaveStatusSettings(ctx, service.System, status.Settings{Name: "Acme"}); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, st := range steps {
			st.do()
			got, err := app.Svc.StatusPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := shape(got), shape(full()); g != w {
				t.Fatalf("after %s:\n got %s\nwant %s", st.name, g, w)
			}
		}
	})
}

func pastOf(p *status.Page) []*status.Incident {
	var out []*status.Incident
	for _, d := range p.Past {
		out = append(out, d.Incidents...)
	}
	return out
}

// A change this process did not make (another replica's, here written
// straight into the database) shows once the page's time to live has run
// out: the first request after it gets the page it had while the page is
// computed again in the background, and later ones the new page.
func TestStatusPageSeesOtherReplicasChanges(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		name := func() string {
			t.Helper()
			p, err := app.Svc.StatusPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return p.Settings.Name
		}
		if got := name(); got != status.DefaultName {
			t.Fatalf("name %q", got)
		}
		// Another replica renames the page.
		if err := app.Store.Write(ctx, func(tx *store.Tx) error {
			return tx.SetStatusSetting(ctx, "instance_name", "Acme", app.Clock.Now())
		}); err != nil {
			t.Fatal(err)
		}
		if got := name(); got != status.DefaultName {
			t.Fatalf("within the time to live: %q", got)
		}
		app.Clock.Advance(6 * time.Second)
		if got := name(); got != status.DefaultName {
			t.Fatalf("the first request after the time to live waited for the new page: %q", got)
		}
		// The background computation finishes on its own; this only
		// waits for it (a guard, not a measurement).
		deadline := time.Now().Add(time.Minute)
		for name() != "Acme" {
			if time.Now().After(deadline) {
				t.Fatal("the page was never computed again")
			}
			time.Sleep(time.Millisecond)
		}
	})
}
