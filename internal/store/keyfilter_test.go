package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// On SQLite the writer keeps a Bloom filter of alert_keys, filled in
// chunks between batches and grown when full. Whatever state it is in, a
// key merged into alert_keys is still found (its alert is not stored
// twice), and once the filter is in use a delivery of new alerts is one
// INSERT: their keys are not read from alert_keys.
func TestKeyFilterNeverHidesAStoredKey(t *testing.T) {
	ctx := context.Background()
	opt := testenv.StoreOptions(t, store.SQLite)
	open := func() *store.Store {
		s, err := store.Open(ctx, opt)
		must(t, err)
		t.Cleanup(func() { s.Close() })
		_, err = s.Migrate(ctx)
		must(t, err)
		// Merges every 7 keys, a filter for 16 keys that must grow, and
		// fills of 5 keys a batch.
		store.SetMergeAt(s, 7)
		store.SetKeyFilter(s, 16, 5)
		return s
	}
	s := open()
	newIntegration(t, s, "a1", "one")
	var fps []string
	// insertNew offers every fingerprint sent so far again with n new
	// ones: only the new ones may be stored.
	insertNew := func(s *store.Store, n int) {
		t.Helper()
		var rows []store.AlertRow
		for _, fp := range fps {
			rows = append(rows, store.AlertRow{Record: newRecord("a1", fp, 0)})
		}
		for range n {
			fp := fmt.Sprintf("fp%05d", len(fps))
			fps = append(fps, fp)
			rows = append(rows, store.AlertRow{Record: newRecord("a1", fp, 0)})
		}
		var stored int
		must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
			stored, err = tx.InsertNewAlerts(ctx, rows)
			return err
		}))
		if stored != n {
			t.Fatalf("%d alerts known, %d new: %d stored", len(fps)-n, n, stored)
		}
	}
	var grew bool
	for range 60 {
		insertNew(s, 3)
		if _, keys, capacity := store.KeyFilter(s); keys > 16 && capacity > 16 {
			grew = true
		}
	}
	if !grew {
		t.Fatal("the filter never grew past its first capacity")
	}
	ready, keys, _ := store.KeyFilter(s)
	if !ready || keys == 0 {
		t.Fatalf("filter ready %v with %d keys after 180 alerts", ready, keys)
	}
	// New alerts only: one statement, the INSERT, for keys the filter
	// rules out, which are nearly all new ones (false positives, about 1
	// in 100, are read from the table).
	newOnly := func(s *store.Store) int64 {
		t.Helper()
		var recs []store.AlertRow
		maybe := 0
		for i := 0; len(recs) < 10; i++ {
			fp := fmt.Sprintf("only-new-%d-%d", len(fps), i)
			if store.KeyFilterMayHold(s, "a1", fp) {
				maybe++
				continue
			}
			recs = append(recs, store.AlertRow{Record: newRecord("a1", fp, 0)})
		}
		if maybe > 3 {
			t.Errorf("the filter may hold %d of %d new keys", maybe, maybe+len(recs))
		}
		before := s.Work().Statements
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.InsertNewAlerts(ctx, recs)
			return err
		}))
		return s.Work().Statements - before
	}
	if n := newOnly(s); n != 1 {
		t.Errorf("a delivery of 10 new alerts ran %d statements, want 1", n)
	}
	// After a restart the filter is filled anew; meanwhile and after,
	// nothing stored is taken for new.
	must(t, s.Close())
	s = open()
	for range 50 {
		insertNew(s, 2)
	}
	if ready, _, _ := store.KeyFilter(s); !ready {
		t.Fatal("no filter in use after the restart")
	}
	if n := newOnly(s); n != 1 {
		t.Errorf("after the restart, a delivery of 10 new alerts ran %d statements, want 1", n)
	}
}
