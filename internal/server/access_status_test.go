package server_test

import (
	"context"
	"fmt"
	"time"

	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
)

// statusRows: the status page and its forms are for anyone, signed in or
// not, whatever QUENCH_PUBLIC_VIEWING says (an ingest token is refused
// everywhere but the intake); its configuration is for admins, except
// that the team may read components and planned maintenance. Publishing
// an incident and a link's visibility are writes like any other.
//
// The fixture has no SMTP server, so the subscription form answers 404
// (e-mail not set up) to everyone; a link that does not verify is a 404
// for everyone too. Both forms are tested with e-mail in status tests.
func statusRows(f *fixture) map[string]cell {
	ids := statusFixture(f)
	anyone := func(code int) map[string]int { return all(code) }
	page := func(path string) cell { return cell{"GET", path, nil, false, with(adminOnly(200), anon, 303)} }
	post := func(path, body string, code int) cell { return cell{"POST", path, body, true, adminOnly(code)} }
	return map[string]cell{
		"GET /status":                   {"GET", "/status", nil, false, anyone(200)},
		"GET /status.json":              {"GET", "/status.json", nil, false, anyone(200)},
		"GET /status.atom":              {"GET", "/status.atom", nil, false, anyone(200)},
		"GET /status/report":            {"GET", "/status/report", nil, false, anyone(200)},
		"POST /status/report":           {"POST", "/status/report", "text=the+shop+is+down&contact=", true, anyone(303)},
		"GET /status/subscribe":         {"GET", "/status/subscribe", nil, false, anyone(404)},
		"POST /status/subscribe":        {"POST", "/status/subscribe", "email=a%40example.com", true, anyone(404)},
		"GET /status/confirm":           {"GET", "/status/confirm?token=1.forged", nil, false, anyone(404)},
		"POST /status/confirm":          {"POST", "/status/confirm", "token=1.forged", true, anyone(404)},
		"GET /status/unsubscribe":       {"GET", "/status/unsubscribe?token=1.forged", nil, false, anyone(404)},
		"POST /status/unsubscribe":      {"POST", "/status/unsubscribe", "token=1.forged", true, anyone(404)},
		"GET /admin/status":             page("/admin/status"),
		"POST /admin/status/settings":   post("/admin/status/settings", "name=Acme&auto_publish_critical=1", 303),
		"POST /admin/status/components": post("/admin/status/components", "name=API&services=api", 303),
		"POST /admin/status/components/{id}": post(fmt.Sprintf("/admin/status/components/%d", ids.component),
			"name=Web+shop&services=shop", 303),
		"POST /admin/status/components/{id}/remove": post(fmt.Sprintf("/admin/status/components/%d/remove", ids.component), "", 303),
		"POST /admin/status/maintenance": post("/admin/status/maintenance",
			"title=Database+upgrade&starts_at=2026-12-01T10:00&ends_at=2026-12-01T11:00", 303),
		"POST /admin/status/maintenance/{id}/remove": post(fmt.Sprintf("/admin/status/maintenance/%d/remove", ids.maintenance), "", 303),
		"POST /admin/status/subscribers/{id}/remove": post(fmt.Sprintf("/admin/status/subscribers/%d/remove", ids.subscriber), "", 303),

		"GET /api/v1/components":         {"GET", "/api/v1/components", nil, false, teamRead()},
		"POST /api/v1/components":        {"POST", "/api/v1/components", map[string]any{"name": "API", "services": []string{"api"}}, false, adminOnly(201)},
		"PATCH /api/v1/components/{id}":  {"PATCH", fmt.Sprintf("/api/v1/components/%d", ids.component), map[string]any{"name": "Shop"}, false, adminOnly(200)},
		"DELETE /api/v1/components/{id}": {"DELETE", fmt.Sprintf("/api/v1/components/%d", ids.component), nil, false, adminOnly(204)},
		"GET /api/v1/maintenance":        {"GET", "/api/v1/maintenance", nil, false, teamRead()},
		"POST /api/v1/maintenance": {"POST", "/api/v1/maintenance", map[string]any{"title": "Upgrade",
			"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T11:00:00Z"}, false, adminOnly(201)},
		"DELETE /api/v1/maintenance/{id}": {"DELETE", fmt.Sprintf("/api/v1/maintenance/%d", ids.maintenance), nil, false, adminOnly(204)},
		"GET /api/v1/subscribers":         {"GET", "/api/v1/subscribers", nil, false, adminOnly(200)},
		"DELETE /api/v1/subscribers/{id}": {"DELETE", fmt.Sprintf("/api/v1/subscribers/%d", ids.subscriber), nil, false, adminOnly(204)},

		"PATCH /api/v1/incidents/{number}/links/{id}":    {"PATCH", "/api/v1/incidents/1/links/1", map[string]any{"visibility": "public"}, false, write(200)},
		"POST /incidents/{number}/links/{id}/visibility": {"POST", "/incidents/1/links/1/visibility", "visibility=public", true, write(303)},
		"POST /incidents/{number}/publish":               {"POST", "/incidents/1/publish", "do=publish&status_title=Shop+slow", true, write(303)},
	}
}

type statusIDs struct{ component, maintenance, subscriber int64 }

// statusFixture adds a component, planned maintenance and a subscriber to
// the fixture's app. matrix has no *testing.T to fail; a setup that fails
// panics, which fails the test all the same.
func statusFixture(f *fixture) statusIDs {
	ctx := context.Background()
	name, services := "Shop", []string{"shop"}
	c, err := f.app.Svc.CreateComponent(ctx, service.System, service.ComponentInput{Name: &name, Services: &services})
	if err != nil {
		panic(err)
	}
	start := f.app.Clock.Now().Add(24 * time.Hour)
	m, err := f.app.Svc.CreateMaintenance(ctx, service.System, service.MaintenanceInput{Title: "Upgrade", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	sb := &status.Subscriber{Email: "someone@example.com", CreatedAt: f.app.Clock.Now(), ConfirmSentAt: f.app.Clock.Now()}
	if err := f.app.Store.Write(ctx, func(tx *store.Tx) error { return tx.InsertSubscriber(ctx, sb) }); err != nil {
		panic(err)
	}
	return statusIDs{component: c.ID, maintenance: m.ID, subscriber: sb.ID}
}
