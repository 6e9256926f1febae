package store

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/quenchhq/quench/internal/problem"
)

// With synchronous=FULL the writer's connection leaves syncing to the
// syncer, and a write is answered only after a sync of the WAL that began
// after its commit has ended; a failed sync fails the write with a 503,
// so its sender tries again.
func TestWriteAnsweredAfterWALSync(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if s.wal == nil {
		t.Fatal("no WAL syncer with synchronous=FULL")
	}
	var mode int
	if err := s.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil || mode != 1 {
		t.Fatalf("writer synchronous = %d, %v; want 1 (NORMAL)", mode, err)
	}
	var mu sync.Mutex
	var events []string
	note := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	var fail error
	s.wal.mu.Lock()
	s.wal.syncFile = func(f *os.File) error {
		note("sync begins")
		err := syncData(f)
		note("sync ends")
		if fail != nil {
			return fail
		}
		return err
	}
	s.wal.mu.Unlock()
	write := func(name string) error {
		return s.Write(ctx, func(tx *Tx) error {
			note("job " + name)
			_, err := tx.q.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)`, name)
			return err
		})
	}
	if err := write("a"); err != nil {
		t.Fatal(err)
	}
	note("answered a")
	if want := []string{"job a", "sync begins", "sync ends", "answered a"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	fail = errors.New("EIO")
	err = write("b")
	if p, ok := problem.As(err); !ok || p.Code != "unavailable" {
		t.Fatalf("failed sync: %v", err)
	}
}
