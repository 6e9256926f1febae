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
		if s, d, err := app.Svc.Cleanup(ctx); err != nil || s != 0 || d != 0 {
			t.Fatalf("fresh cleanup removed %d %d %v", s, d, err)
		}
		app.Clock.Advance(service.SessionLifetime + 8*24*time.Hour)
		if s, _, err := app.Svc.Cleanup(ctx); err != nil || s != 2 {
			t.Fatalf("expired sessions removed: %d %v", s, err)
		}
		if _, err := app.Svc.AuthenticateSession(ctx, keep); err == nil {
			t.Fatal("a removed session still authenticates")
		}
	})
}
