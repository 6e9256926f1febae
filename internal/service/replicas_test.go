package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// secondReplica is another Quench process on app's database: on
// PostgreSQL a service with its own connections and memory; on SQLite,
// where one process owns the database, a second service over the same
// store (still no memory shared with the first).
func secondReplica(t *testing.T, app *testenv.App) *service.Service {
	t.Helper()
	st := app.Store
	if st.Dialect() == store.Postgres {
		var err error
		if st, err = store.Open(context.Background(), app.StoreOptions); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	return service.New(st, service.Options{Now: app.Clock.Now, Hasher: testenv.CheapHasher})
}

// Sign-in throttling holds across replicas: failures counted on either
// replica block the account on both, the right password included, until
// the window has passed; retention then removes the old failures.
func TestThrottleHoldsAcrossReplicas(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		replicas := []*service.Service{app.Svc, secondReplica(t, app)}
		for i := range 5 {
			_, _, err := replicas[i%2].Login(ctx, "ana", "wrong password", service.Client{Remote: "192.0.2.1:1"})
			if p, ok := problem.As(err); !ok || p.Code != "bad_credentials" {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		for i, svc := range replicas {
			_, _, err := svc.Login(ctx, "ana", "password-ana", service.Client{Remote: "192.0.2.9:1"})
			if p, ok := problem.As(err); !ok || p.Code != "too_many_attempts" {
				t.Errorf("replica %d after five failures spread over two: %v, want too_many_attempts", i+1, err)
			}
		}
		app.Clock.Advance(15*time.Minute + time.Second)
		r, err := replicas[1].Cleanup(ctx)
		if err != nil || r.SigninFailures != 10 {
			t.Errorf("cleanup after the window: %+v %v, want 10 sign-in failures removed (5 by account, 5 by address)", r, err)
		}
		if _, _, err := replicas[1].Login(ctx, "ana", "password-ana", service.Client{Remote: "192.0.2.9:1"}); err != nil {
			t.Errorf("sign-in after the window: %v", err)
		}
	})
}

// A job lease belongs to one holder until it runs out or is given up;
// concurrent claims of a free lease make exactly one holder.
func TestJobLeases(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		a, b := app.Svc, secondReplica(t, app)
		claim := func(svc *service.Service, holder string) bool {
			t.Helper()
			ok, err := svc.ClaimLease(ctx, "job", holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim(a, "A") || claim(b, "B") || !claim(a, "A") {
			t.Fatal("A claims, B is refused, A renews: not so")
		}
		app.Clock.Advance(time.Minute)
		if !claim(b, "B") || claim(a, "A") {
			t.Fatal("after A's lease ran out B takes it and A is refused: not so")
		}
		if err := b.ReleaseLease(ctx, "job", "B"); err != nil {
			t.Fatal(err)
		}
		if !claim(a, "A") {
			t.Fatal("a lease given up is not free")
		}
		// Eight replicas at once on a free lease.
		app.Clock.Advance(2 * time.Minute)
		won := make(chan string, 8)
		errs := make(chan error, 8)
		for i := range 8 {
			svc := []*service.Service{a, b}[i%2]
			go func() {
				holder := string(rune('C' + i))
				ok, err := svc.ClaimLease(ctx, "job", holder, time.Minute)
				if ok {
					won <- holder
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
				// A serialization failure is retried by the store; any
				// other error is a finding.
				t.Errorf("concurrent claim: %v", err)
			}
		}
		if n := len(won); n != 1 {
			t.Errorf("%d of 8 concurrent claims won, want 1", n)
		}
	})
}
