package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func newIntegration(t *testing.T, s *store.Store, id, name string) *alert.Integration {
	t.Helper()
	in := &alert.Integration{ID: id, Type: alert.TypeAlertmanager, Name: name, TokenHash: "hash-" + id, CreatedBy: "ana", CreatedAt: t0}
	must(t, s.Write(context.Background(), func(tx *store.Tx) error { return tx.InsertIntegration(context.Background(), in) }))
	return in
}

func write(s *store.Store, fn func(ctx context.Context, tx *store.Tx) error) error {
	ctx := context.Background()
	return s.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) })
}

func TestIntegrations(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sentry := &alert.Integration{ID: "s1", Type: alert.TypeSentry, Name: "sentry", Secret: "client secret", CreatedBy: "bo", CreatedAt: t0}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertIntegration(ctx, sentry) }))
		am := newIntegration(t, s, "a1", "alertmanager eu")
		got := read(t, s, func(tx *store.Tx) (*alert.Integration, error) { return tx.Integration(ctx, "s1") })
		if !reflect.DeepEqual(got, sentry) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, sentry)
		}

		dup := &alert.Integration{ID: "a2", Type: alert.TypeGeneric, Name: "alertmanager eu", CreatedBy: "ana", CreatedAt: t0}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertIntegration(ctx, dup) }); !problem.Is(err, "integration_exists") {
			t.Fatalf("taken name: %v", err)
		}
		again := &alert.Integration{ID: "a1", Type: alert.TypeGeneric, Name: "other", CreatedBy: "ana", CreatedAt: t0}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertIntegration(ctx, again) }); !store.IsUnique(err) {
			t.Fatalf("taken id: %v", err)
		}

		names := func() []string {
			var out []string
			for _, in := range read(t, s, func(tx *store.Tx) ([]*alert.Integration, error) { return tx.Integrations(ctx) }) {
				out = append(out, in.Name)
			}
			return out
		}
		if got := names(); !slices.Equal(got, []string{"alertmanager eu", "sentry"}) {
			t.Fatalf("list by name: %v", got)
		}

		at := t0.Add(90 * time.Second)
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.TouchIntegration(ctx, am.ID, at) }))
		var locked *alert.Integration
		must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
			locked, err = tx.LockIntegration(ctx, am.ID)
			return err
		}))
		if !locked.LastAlertAt.Equal(at) || locked.Name != am.Name {
			t.Fatalf("touched: %+v", locked)
		}

		// Deleting retires the integration: gone from reads, its name free.
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.DeleteIntegration(ctx, am.ID, t0.Add(time.Hour))
		}))
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteIntegration(ctx, am.ID, t0) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted twice: %v", err)
		}
		for _, id := range []string{am.ID, "nope"} {
			if _, err := readErr(s, func(tx *store.Tx) (*alert.Integration, error) { return tx.Integration(ctx, id) }); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Integration(%s): %v", id, err)
			}
			err := write(s, func(ctx context.Context, tx *store.Tx) error { _, err := tx.LockIntegration(ctx, id); return err })
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("LockIntegration(%s): %v", id, err)
			}
		}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteIntegration(ctx, "nope", t0) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete unknown: %v", err)
		}
		newIntegration(t, s, "a3", "alertmanager eu")
		if got := names(); !slices.Equal(got, []string{"alertmanager eu", "sentry"}) {
			t.Fatalf("after delete and re-create: %v", got)
		}
	})
}

func TestDeliveries(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		newIntegration(t, s, "a1", "one")
		newIntegration(t, s, "a2", "two")
		record := func(in, id string, at time.Time) bool {
			t.Helper()
			var fresh bool
			must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
				fresh, err = tx.RecordDelivery(ctx, in, id, at)
				return err
			}))
			return fresh
		}
		if !record("a1", "r1", t0) || record("a1", "r1", t0.Add(time.Minute)) {
			t.Fatal("a replay is not recognised")
		}
		if !record("a2", "r1", t0) || !record("a1", "r2", t0.Add(2*time.Hour)) {
			t.Fatal("deliveries of different integrations or ids collide")
		}
		var n int64
		must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
			n, err = tx.DeleteDeliveriesBefore(ctx, t0.Add(time.Hour))
			return err
		}))
		if n != 2 {
			t.Fatalf("forgot %d deliveries, want 2", n)
		}
		if !record("a1", "r1", t0.Add(3*time.Hour)) || record("a1", "r2", t0.Add(3*time.Hour)) {
			t.Fatal("forgetting removed the wrong deliveries")
		}
	})
}

func TestRules(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		newIntegration(t, s, "a1", "one")
		list := func() []string {
			var out []string
			for _, r := range read(t, s, func(tx *store.Tx) ([]*alert.Rule, error) { return tx.Rules(ctx) }) {
				out = append(out, r.Name)
			}
			return out
		}
		// The migration seeds the defaults.
		if got := list(); !slices.Equal(got, []string{"page-worthy alerts open incidents", "everything else goes to the inbox"}) {
			t.Fatalf("default rules: %v", got)
		}

		ms, err := alert.ParseMatchers(`{service="backup", env=~"prod|staging"}`)
		must(t, err)
		r := &alert.Rule{Position: 5, Name: "backups page", Matchers: ms, Action: alert.ActionOpen, Integration: "a1",
			Severity: "critical", Visibility: "confidential", CreatedAt: t0}
		tie := &alert.Rule{Position: 5, Name: "tie, inserted later", Action: alert.ActionAttach, CreatedAt: t0}
		for _, r := range []*alert.Rule{r, tie} {
			must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRule(ctx, r) }))
		}
		if r.ID == 0 || tie.ID <= r.ID {
			t.Fatalf("ids %d %d", r.ID, tie.ID)
		}
		if got := list(); !slices.Equal(got, []string{"backups page", "tie, inserted later", "page-worthy alerts open incidents", "everything else goes to the inbox"}) {
			t.Fatalf("by position, then id: %v", got)
		}
		got := read(t, s, func(tx *store.Tx) ([]*alert.Rule, error) { return tx.Rules(ctx) })[0]
		if got.ID != r.ID || got.MatchersString() != r.MatchersString() || got.Action != r.Action || got.Integration != "a1" ||
			got.Severity != "critical" || got.Visibility != "confidential" || !got.CreatedAt.Equal(t0) ||
			!got.Matches("a1", &alert.Alert{Labels: map[string]string{"service": "backup", "env": "staging"}}) {
			t.Fatalf("round trip: %+v", got)
		}
		if tie := read(t, s, func(tx *store.Tx) ([]*alert.Rule, error) { return tx.Rules(ctx) })[1]; tie.Integration != "" || len(tie.Matchers) != 0 {
			t.Fatalf("rule for every integration and alert: %+v", tie)
		}

		bad := &alert.Rule{Position: 1, Name: "x", Action: alert.ActionInbox, Integration: "ghost", CreatedAt: t0}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRule(ctx, bad) }); !problem.Is(err, "unknown_integration") {
			t.Fatalf("unknown integration: %v", err)
		}

		// Within one transaction, a change is seen by the next read.
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			before, err := tx.Rules(ctx)
			if err != nil {
				return err
			}
			if err := tx.DeleteRule(ctx, tie.ID); err != nil {
				return err
			}
			after, err := tx.Rules(ctx)
			if err != nil {
				return err
			}
			if len(after) != len(before)-1 {
				t.Errorf("Rules after DeleteRule in the same transaction: %d, want %d", len(after), len(before)-1)
			}
			late := &alert.Rule{Position: 2000, Name: "late", Action: alert.ActionInbox, CreatedAt: t0}
			if err := tx.InsertRule(ctx, late); err != nil {
				return err
			}
			if after, err = tx.Rules(ctx); err == nil && after[len(after)-1].Name != "late" {
				t.Errorf("Rules after InsertRule in the same transaction ends with %q", after[len(after)-1].Name)
			}
			return err
		}))
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRule(ctx, tie.ID) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if got := list(); !slices.Equal(got, []string{"backups page", "page-worthy alerts open incidents", "everything else goes to the inbox", "late"}) {
			t.Fatalf("after delete and insert: %v", got)
		}
	})
}
