package web_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Two replicas on one PostgreSQL, with a frozen clock (so the status
// page's time to live never runs out): when replica A changes a component
// or a maintenance window, replica B's cached /status and /status.json
// change, ETags included, as soon as A's announcement arrives; a client
// revalidating with the old ETag gets the new page, not a 304.
func TestStatusChangesReachReplicas(t *testing.T) {
	if !slices.Contains(testenv.Dialects(t), store.Postgres) {
		t.Skip("replicas need PostgreSQL (QUENCH_TEST_POSTGRES_URL)")
	}
	a := testenv.StartApp(t, store.Postgres)
	admin := a.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	comp := a.Must(t, 201, "POST", "/api/v1/components", admin, map[string]any{"name": "Checkout", "services": []string{"shop"}})
	id := comp.JSON["id"].(float64)
	b := a.Replica(t)
	tags := map[string]string{}
	look := func(path string) (status int, body, etag string) {
		r := b.Request(t, "GET", path, "", nil, "If-None-Match", tags[path])
		return r.Status, string(r.Body), r.Header.Get("ETag")
	}
	for _, path := range []string{"/status", "/status.json"} {
		status, body, etag := look(path)
		if status != 200 || !strings.Contains(body, "Checkout") || etag == "" {
			t.Fatalf("B %s: %d %q", path, status, etag)
		}
		tags[path] = etag
		if status, _, _ := look(path); status != 304 {
			t.Fatalf("B %s revalidated unchanged: %d, want 304", path, status)
		}
	}
	// changed waits for B's pages to show want, with new ETags; the
	// deadline only catches hangs (the clock is frozen: without the
	// announcement B would serve the old page for ever).
	changed := func(what, want string, gone bool) {
		t.Helper()
		for _, path := range []string{"/status", "/status.json"} {
			deadline := time.Now().Add(30 * time.Second)
			for {
				status, body, etag := look(path)
				if status == 200 && strings.Contains(body, want) != gone && etag != tags[path] {
					tags[path] = etag
					break
				}
				if status != 200 && status != 304 {
					t.Fatalf("B %s after %s: %d", path, what, status)
				}
				if time.Now().After(deadline) {
					t.Fatalf("B %s does not show %s within 30s (status %d)", path, what, status)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	a.Must(t, 200, "PATCH", fmt.Sprintf("/api/v1/components/%d", int64(id)), admin, map[string]any{"name": "Checkout and payments"})
	changed("the renamed component", "Checkout and payments", false)

	start := a.Clock.Now().Add(time.Hour)
	m := a.Must(t, 201, "POST", "/api/v1/maintenance", admin, map[string]any{"title": "Database upgrade", "body": "a short pause",
		"starts_at": start, "ends_at": start.Add(time.Hour), "components": []float64{id}})
	changed("the planned maintenance", "Database upgrade", false)
	a.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/maintenance/%d", int64(m.JSON["id"].(float64))), admin, nil)
	changed("the cancelled maintenance", "Database upgrade", true)

	a.Must(t, 204, "DELETE", fmt.Sprintf("/api/v1/components/%d", int64(id)), admin, nil)
	changed("the removed component", "Checkout and payments", true)
}

// Two replicas on one PostgreSQL: an alert posted to replica A moves the
// inbox count a team stream on replica B shows.
func TestInboxCountReachesReplicas(t *testing.T) {
	if !slices.Contains(testenv.Dialects(t), store.Postgres) {
		t.Skip("replicas need PostgreSQL (QUENCH_TEST_POSTGRES_URL)")
	}
	a := testenv.StartApp(t, store.Postgres)
	admin := a.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	tok := a.User(t, "ana", auth.RoleResponder)
	in := a.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	b := a.Replica(t)
	live := openStream(t, b, tok)
	a.Must(t, 200, "POST", "/api/v1/intake/generic/"+in.JSON["id"].(string), in.JSON["token"].(string), map[string]any{"title": "disk filling"})
	live.waitFor(t, "event: inbox\ndata: {\"waiting\":1}")
}
