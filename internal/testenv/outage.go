package testenv

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/store"
)

// Call is one request for App.Outage.
type Call struct {
	Method, Path, Token string
	Body                any
}

// Outage sends calls while the app's database cannot serve them, all at
// once, and returns their answers in order. It ends the outage before it
// returns, so the app can be seen to recover.
//
// On SQLite another connection holds the write lock: every write waits out
// the store's busy timeout and fails with SQLITE_BUSY (sending the calls
// together waits it out once or twice, not once per call), while reads go
// on from their WAL snapshot. On PostgreSQL another connection holds the
// tables locked, and every app connection that waits on a lock is
// terminated, as a database restart would do; the tables choose which
// step of a request fails.
func (a *App) Outage(t testing.TB, tables []string, calls ...Call) []*Response {
	t.Helper()
	ctx := context.Background()
	var end func()
	var interrupt func(done <-chan struct{})
	switch a.Store.Dialect() {
	case store.SQLite:
		end = a.lockSQLite(t, ctx)
		interrupt = func(done <-chan struct{}) { <-done }
	case store.Postgres:
		end, interrupt = a.lockPostgres(t, ctx, tables)
	}
	out := make([]*Response, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() { out[i], errs[i] = a.send(c.Method, c.Path, c.Token, c.Body) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	interrupt(done)
	end()
	<-done
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s %s: %v", calls[i].Method, calls[i].Path, err)
		}
	}
	return out
}

func (a *App) lockSQLite(t testing.TB, ctx context.Context) (end func()) {
	_, end = hold(t, ctx, "sqlite", "file:"+a.Store.Path()+"?_pragma=busy_timeout(10000)", "BEGIN EXCLUSIVE")
	return end
}

func (a *App) lockPostgres(t testing.TB, ctx context.Context, tables []string) (end func(), interrupt func(<-chan struct{})) {
	t.Helper()
	if len(tables) == 0 {
		t.Fatal("Outage on PostgreSQL needs the tables to lock")
	}
	db, end := hold(t, ctx, "pgx", a.StoreOptions.URL, "BEGIN", "LOCK TABLE "+strings.Join(tables, ", ")+" IN ACCESS EXCLUSIVE MODE")
	// Nothing tells another session that a backend has started to wait
	// on a lock, so look until every call has been answered.
	interrupt = func(done <-chan struct{}) {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`); err != nil {
				t.Error(err)
				return
			}
		}
	}
	return end, interrupt
}

// hold opens the database beside the app and runs stmts on one connection
// of it, which keeps the locks they take until end rolls them back. The
// pool stays open until then for the caller's own queries.
func hold(t testing.TB, ctx context.Context, driver, dsn string, stmts ...string) (*sql.DB, func()) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db, func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Error(err)
		}
		conn.Close()
		db.Close()
	}
}
