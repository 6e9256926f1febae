package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

func TestCleanup(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		if _, _, err := app.Svc.Login(ctx, "ana", "password-ana", service.Client{}); err != nil {
			t.Fatal(err)
		}
		keep, _, _ := app.Svc.Login(ctx, "ana", "password-ana", service.Client{})
		if _, err := app.Svc.CreateSnooze(ctx, service.System, service.NewSnooze{Matchers: `alertname="x"`, For: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if r, err := app.Svc.Cleanup(ctx); err != nil || r != (service.Removed{}) {
			t.Fatalf("fresh cleanup removed %+v %v", r, err)
		}
		app.Clock.Advance(service.SessionLifetime + 8*24*time.Hour)
		if r, err := app.Svc.Cleanup(ctx); err != nil || r.Sessions != 2 || r.Snoozes != 1 {
			t.Fatalf("expired sessions and snoozes removed: %+v %v", r, err)
		}
		if _, err := app.Svc.AuthenticateSession(ctx, keep); err == nil {
			t.Fatal("a removed session still authenticates")
		}
	})
}

// Failed and throttled sign-ins are kept 90 days; the rest of the audit
// log stays.
func TestFailedSignInsExpire(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		for range 6 {
			app.Svc.Login(ctx, "ana", "wrong password", service.Client{})
		}
		if _, _, err := app.Svc.Login(ctx, "ana", "password-ana", service.Client{}); err == nil {
			t.Fatal("throttled sign-in succeeded")
		}
		count := func() map[string]int {
			entries, err := app.Svc.Audit(ctx, service.System, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]int{}
			for _, e := range entries {
				m[e.Action]++
			}
			return m
		}
		before := count()
		if before["login_failed"] != 5 || before["login_throttled"] != 1 {
			t.Fatalf("audit before: %v", before)
		}
		app.Clock.Advance(89 * 24 * time.Hour)
		if r, err := app.Svc.Cleanup(ctx); err != nil || r.AuditEntries != 0 {
			t.Fatalf("after 89 days: removed %+v %v", r, err)
		}
		app.Clock.Advance(2 * 24 * time.Hour)
		if r, err := app.Svc.Cleanup(ctx); err != nil || r.AuditEntries != 6 {
			t.Fatalf("after 91 days: removed %+v %v", r, err)
		}
		after := count()
		if after["login_failed"]+after["login_throttled"] != 0 || after["user_created"] != 1 || after["token_created"] != 1 {
			t.Fatalf("audit after: %v", after)
		}
	})
}
