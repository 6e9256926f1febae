package testenv

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
)

// Replica starts a second Quench on a's PostgreSQL database, as another
// replica behind a load balancer: its own connections, service (memory,
// caches) and listener, sharing only the database, the fake clock and
// the log guard. Both replicas run their change feeds (LISTEN/NOTIFY),
// and Replica returns once both listen, so every change either announces
// from then on reaches the other. Call it once per app.
func (a *App) Replica(t testing.TB) *App {
	t.Helper()
	if a.Store.Dialect() != store.Postgres {
		t.Fatal("replicas share a PostgreSQL database")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, a.StoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, service.Options{Now: a.Clock.Now, Log: slog.New(a.Log), Hasher: CheapHasher, Guard: LoopbackGuard()})
	b := &App{Store: st, StoreOptions: a.StoreOptions, Svc: svc, Clock: a.Clock, Log: a.Log}
	b = b.serve(t, nil)
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []*service.Service{a.Svc, svc} {
		s.EnableChangeFeed()
		wg.Add(1)
		go func() { defer wg.Done(); s.RunChangeFeed(fctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	WaitListening(t, a.StoreOptions.URL, 2)
	return b
}

// WaitListening waits until n sessions of the PostgreSQL database at url
// listen: until then, an announcement may reach fewer replicas.
func WaitListening(t testing.TB, url string, n int) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A listening session's last statement is its LISTEN.
		var got int
		err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions listen after 30 s", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
