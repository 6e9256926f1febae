package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// auditSize is what the audit log holds: its rows, the bytes of their
// fields, and how many attempts they account for (a counted row stands
// for detail.count of them).
func auditSize(t *testing.T, app *testenv.App, actions ...string) (rows, bytes, attempts int) {
	t.Helper()
	entries, err := app.Svc.Audit(context.Background(), service.System, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(actions) > 0 && !slices.Contains(actions, e.Action) {
			continue
		}
		d, _ := json.Marshal(e.Detail)
		rows++
		bytes += len(e.Actor) + len(e.Action) + len(e.Target) + len(e.Remote) + len(d)
		if len(e.Actor) > 64 || len(e.Target) > 64 {
			t.Errorf("%s row keeps a %d-byte name", e.Action, max(len(e.Actor), len(e.Target)))
		}
		n := 1
		if c, ok := e.Detail["count"].(float64); ok {
			n = int(c)
		}
		attempts += n
	}
	return rows, bytes, attempts
}

// The probe: failed sign-ins with a 7.9 KB user name from one address
// wrote 67 MB of audit rows in 10 s. Now names are cut to the longest a
// user name can be, and a flood is a handful of rows per throttle window,
// one of them counting the rest.
func TestSignInFloodKeepsAuditLogSmall(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		app.User(t, "ana", auth.RoleResponder)
		long := strings.Repeat("x", 7900)
		const attempts = 300
		flood := func(round int) {
			for i := range attempts {
				name := fmt.Sprintf("%d-%d-%s", round, i, long)
				body := url.Values{"username": {name}, "password": {"guess-" + long[:100]}}.Encode()
				r := app.Request(t, "POST", "/login", "", body, "Content-Type", "application/x-www-form-urlencoded", "User-Agent", long)
				if r.Status != 401 && r.Status != 429 {
					t.Fatalf("attempt %d: %d", i, r.Status)
				}
			}
		}
		flood(1)
		if _, err := app.Svc.Cleanup(context.Background()); err != nil { // writes the counts
			t.Fatal(err)
		}
		rows, bytes, counted := auditSize(t, app, "login_failed", "login_throttled")
		t.Logf("%d attempts with %d-byte names: %d rows, %d bytes", attempts, len(long)+8, rows, bytes)
		// 5 rows for unknown names, one counting the other 25 the address
		// may fail before its throttle, one counting the 270 throttled.
		if rows > 7 || bytes > 2048 || counted != attempts {
			t.Fatalf("one window: %d rows, %d bytes, %d of %d attempts counted", rows, bytes, counted, attempts)
		}
		// The next window costs the same again, no more.
		app.Clock.Advance(16 * time.Minute)
		flood(2)
		app.Clock.Advance(16 * time.Minute)
		if _, _, err := app.Svc.Login(context.Background(), "ana", "password-ana", service.Client{Remote: "192.0.2.1:1"}); err != nil {
			t.Fatal(err) // a sign-in after the window closes its counted rows
		}
		rows2, bytes2, counted2 := auditSize(t, app, "login_failed", "login_throttled")
		if rows2 != 2*rows || bytes2 > 2*bytes+64 || counted2 != 2*attempts {
			t.Fatalf("two windows: %d rows, %d bytes, %d attempts; one window was %d rows, %d bytes", rows2, bytes2, counted2, rows, bytes)
		}
	})
}

// Names and addresses are cut wherever the audit log or a session stores
// them, whichever way they arrive.
func TestStoredClientFieldsAreCapped(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		long := strings.Repeat("é", 4000) // multi-byte, so a cut must respect runes
		c := service.Client{Remote: long, UserAgent: long}
		if _, _, err := app.Svc.Login(ctx, "ana", "password-ana", c); err != nil {
			t.Fatal(err)
		}
		app.Svc.Login(ctx, "ana"+long, "x", c)
		sessions, err := app.Svc.Sessions(ctx, service.System)
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 1 || len(sessions[0].UserAgent) > 300 || len(sessions[0].Remote) > 64 {
			t.Fatalf("session keeps %d-byte agent, %d-byte address", len(sessions[0].UserAgent), len(sessions[0].Remote))
		}
		entries, err := app.Svc.Audit(ctx, service.System, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, e := range entries {
			if len(e.Actor) > 254 || len(e.Target) > 254 || len(e.Remote) > 64 || !utf8.ValidString(e.Target) || !utf8.ValidString(e.Remote) {
				t.Errorf("%s: actor %d, target %d, remote %d bytes", e.Action, len(e.Actor), len(e.Target), len(e.Remote))
			}
			if e.Action == "login_failed" {
				failed++
			}
		}
		if failed != 1 {
			t.Fatalf("%d failed sign-ins recorded, want 1", failed)
		}
	})
}
