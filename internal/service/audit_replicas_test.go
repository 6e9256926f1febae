package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/testenv"
)

// Counted audit rows across two replicas, on both databases. The throttle
// itself is shared (the database's signin_failures): once five failures
// spread over both block the account, both refuse it. The audit log's
// account of the refused attempts is counted in each replica's memory on
// purpose (service/audit.go says why): each replica writes one row per
// key and window at once, and its count when the window ends, so two
// replicas make two rows whose counts add up to every refused attempt; a
// replica that dies before its window ends leaves its row with the count
// it had written (1): the attempts were refused all the same.
func TestCountedAuditAcrossReplicas(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		a, b := app.Svc, secondReplica(t, app)
		replicas := []*service.Service{a, b}
		login := func(svc *service.Service, i int, password string) error {
			_, _, err := svc.Login(ctx, "ana", password, service.Client{Remote: fmt.Sprintf("192.0.2.%d:1", i%200+1)})
			return err
		}
		for i := range 5 {
			if p, ok := problem.As(login(replicas[i%2], i, "wrong")); !ok || p.Code != "bad_credentials" {
				t.Fatalf("failure %d", i+1)
			}
		}
		const refused = 41 // 21 on A, 20 on B
		for i := range refused {
			if p, ok := problem.As(login(replicas[i%2], i, "password-ana")); !ok || p.Code != "too_many_attempts" {
				t.Fatalf("attempt %d after the block was not refused", i+1)
			}
		}
		throttled := func() (rows, counted int) {
			entries, err := a.Audit(ctx, service.System, 1000, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Action != "login_throttled" {
					continue
				}
				rows++
				if c, ok := e.Detail["count"].(float64); ok {
					counted += int(c)
				}
			}
			return rows, counted
		}
		// While the window lasts: one row per replica, written at once,
		// each counting its first attempt.
		if rows, counted := throttled(); rows != 2 || counted != 2 {
			t.Fatalf("during the window: %d rows counting %d, want 2 rows counting 2", rows, counted)
		}
		// The window ends: A writes its count (the next sign-in or the
		// retention job notices), B has died and never does.
		app.Clock.Advance(16 * time.Minute)
		a.FlushAudit(ctx, false)
		if rows, counted := throttled(); rows != 2 || counted != 21+1 {
			t.Fatalf("after A's window: %d rows counting %d, want 2 rows counting 22 (A's 21 and B's first)", rows, counted)
		}
		// Had B lived, its count would have joined: every refused attempt
		// is accounted for, in two rows.
		b.FlushAudit(ctx, false)
		if rows, counted := throttled(); rows != 2 || counted != refused {
			t.Fatalf("after both windows: %d rows counting %d, want 2 rows counting %d", rows, counted, refused)
		}
	})
}
