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
		if r, err := app.Svc.Cleanup(ctx); err != nil || r != (service.Removed{}) {
			t.Fatalf("fresh cleanup removed %+v %v", r, err)
		}
		app.Clock.Advance(service.SessionLifetime + 8*24*time.Hour)
		if r, err := app.Svc.Cleanup(ctx); err != nil || r.Sessions != 2 {
			t.Fatalf("expired sessions removed: %+v %v", r, err)
		}
		if _, err := app.Svc.AuthenticateSession(ctx, keep); err == nil {
			t.Fatal("a removed session still authenticates")
		}
	})
}
