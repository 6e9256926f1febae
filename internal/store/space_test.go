package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// A write refused for lack of space is a storage_full problem (a 503 with
// Retry-After for the client) and rolls back whole; the next write that
// fits commits on the same store. (Readiness after a refusal: see
// TestClassifyTransient; with a real full disk: the fault suite.)
func TestStorageFull(t *testing.T) {
	s := testenv.NewStore(t, store.SQLite)
	ctx := context.Background()
	if err := s.CheckSpace(); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	exec := func(q string) error {
		return s.Write(ctx, func(tx *store.Tx) error { return tx.Exec(ctx, q) })
	}
	if err := exec(`CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.Read(ctx, func(tx *store.Tx) error { return tx.QueryCount(ctx, `PRAGMA page_count`, &pages) }); err != nil {
		t.Fatal(err)
	}
	// The writer's connection may not grow the file: a full disk.
	if err := exec(`PRAGMA max_page_count = ` + strconv.Itoa(pages+2)); err != nil {
		t.Fatal(err)
	}
	err := exec(`INSERT INTO filler VALUES (zeroblob(1000000))`)
	if !problem.Is(err, "storage_full") {
		t.Fatalf("write beyond the space: %v, want storage_full", err)
	}
	if p, _ := problem.As(err); p.Kind != problem.Unavailable {
		t.Fatalf("storage_full is %v, want Unavailable (503)", p.Kind)
	}
	var n int
	if err := s.Read(ctx, func(tx *store.Tx) error { return tx.QueryCount(ctx, `SELECT COUNT(*) FROM filler`, &n) }); err != nil || n != 0 {
		t.Fatalf("refused write left %d rows (%v)", n, err)
	}
	if err := exec(`PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := exec(`INSERT INTO filler VALUES (zeroblob(1000000))`); err != nil {
		t.Fatalf("write after space came back: %v", err)
	}
}

// A data folder whose name has URI metacharacters is the folder used: an
// unescaped '#' or '?' would open a database somewhere else.
func TestDataDirWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ops#2?x=1%41")
	s, err := store.Open(context.Background(), store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "quench.db")); err != nil {
		t.Fatalf("the database is not in the data folder: %v", err)
	}
}
