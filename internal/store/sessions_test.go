package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func newSession(t *testing.T, s *store.Store, u *auth.User, id string, created time.Time) *auth.Session {
	t.Helper()
	se := &auth.Session{ID: id, UserID: u.ID, Username: u.Username, CSRF: "csrf-" + id, Via: "password", UserAgent: "Firefox",
		Remote: "192.0.2.7", CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(12 * time.Hour)}
	must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertSession(ctx, se, "hash-"+id) }))
	return se
}

func sessionIDs(list []*auth.Session) []string {
	var out []string
	for _, se := range list {
		out = append(out, se.ID)
	}
	return out
}

func TestSessions(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ana := createUser(t, s, "ana")
		a1 := newSession(t, s, ana, "a1", t0)
		got := read(t, s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, "a1") })
		if !reflect.DeepEqual(got, a1) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, a1)
		}
		var gotUser *auth.User
		must(t, s.Read(ctx, func(tx *store.Tx) (err error) { got, gotUser, err = tx.SessionByHash(ctx, "hash-a1"); return err }))
		if !reflect.DeepEqual(got, a1) || gotUser.ID != ana.ID || gotUser.Username != "ana" || gotUser.Role != auth.RoleResponder {
			t.Fatalf("by hash: %+v %+v", got, gotUser)
		}
		err := s.Read(ctx, func(tx *store.Tx) error { _, _, err := tx.SessionByHash(ctx, "nope"); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown hash: %v", err)
		}
		if _, err := readErr(s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, "nope") }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		dupHash := &auth.Session{ID: "other", UserID: ana.ID, CSRF: "c", Via: "password", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertSession(ctx, dupHash, "hash-a1") }); !store.IsUnique(err) {
			t.Fatalf("same hash twice: %v", err)
		}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertSession(ctx, a1, "hash-new") }); !store.IsUnique(err) {
			t.Fatalf("same id twice: %v", err)
		}
		ghost := &auth.Session{ID: "g", UserID: 999, CSRF: "c", Via: "password", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.InsertSession(ctx, ghost, "hash-g") }); err == nil {
			t.Fatal("session of an unknown user stored")
		}

		seen := t0.Add(10 * time.Minute)
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.TouchSession(ctx, "a1", seen) }))
		if got := read(t, s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, "a1") }); !got.LastSeenAt.Equal(seen) {
			t.Fatalf("touched: %v", got.LastSeenAt)
		}

		// Revoking keeps the first time.
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeSession(ctx, "a1", t0.Add(time.Hour)) }))
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeSession(ctx, "a1", t0.Add(2*time.Hour)) }))
		got = read(t, s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, "a1") })
		if !got.RevokedAt.Equal(t0.Add(time.Hour)) || got.Usable(t0.Add(90*time.Minute)) {
			t.Fatalf("revoked: %+v", got)
		}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeSession(ctx, "nope", t0) }))
	})
}

func TestSessionLists(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ana, bo := createUser(t, s, "ana"), createUser(t, s, "bo")
		newSession(t, s, ana, "a1", t0)
		newSession(t, s, ana, "a2", t0.Add(time.Hour))
		newSession(t, s, ana, "a3", t0.Add(2*time.Hour))
		newSession(t, s, bo, "b1", t0.Add(30*time.Minute))
		newSession(t, s, bo, "b0", t0.Add(-24*time.Hour)) // expired at t0-12h
		list := func(user int64, now time.Time) []string {
			return sessionIDs(read(t, s, func(tx *store.Tx) ([]*auth.Session, error) { return tx.Sessions(ctx, user, now) }))
		}
		now := t0.Add(3 * time.Hour)
		if got := list(0, now); !slices.Equal(got, []string{"a3", "a2", "b1", "a1"}) {
			t.Fatalf("usable, newest first: %v", got)
		}
		if got := list(bo.ID, now); !slices.Equal(got, []string{"b1"}) {
			t.Fatalf("bo's: %v", got)
		}
		if got := list(ana.ID, t0.Add(12*time.Hour+30*time.Minute)); !slices.Equal(got, []string{"a3", "a2"}) {
			t.Fatalf("a1 expired at t0+12h: %v", got)
		}
		if got := list(ana.ID, t0.Add(13*time.Hour)); !slices.Equal(got, []string{"a3"}) {
			t.Fatalf("a2 expires at t0+13h, unusable from then on as Session.Usable says: %v", got)
		}

		// Ending every session but the current one touches no one else's.
		revokeAll := func(keep string, at time.Time) int64 {
			var n int64
			must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
				n, err = tx.RevokeUserSessions(ctx, ana.ID, keep, at)
				return err
			}))
			return n
		}
		if n := revokeAll("a2", now); n != 2 {
			t.Fatalf("revoked %d of ana's other sessions, want 2", n)
		}
		if got := list(0, now); !slices.Equal(got, []string{"a2", "b1"}) {
			t.Fatalf("after revoking ana's others: %v", got)
		}
		if n := revokeAll("", now.Add(time.Minute)); n != 1 {
			t.Fatalf("revoked %d more, want 1", n)
		}
		if got := list(0, now); !slices.Equal(got, []string{"b1"}) {
			t.Fatalf("after revoking all of ana's: %v", got)
		}
		// The earlier revocation time stays.
		if a1 := read(t, s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, "a1") }); !a1.RevokedAt.Equal(now) {
			t.Fatalf("a1 revoked at %v, want %v", a1.RevokedAt, now)
		}

		// Cleaning up removes sessions that expired or were revoked before
		// the cutoff, and nothing else.
		var n int64
		must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
			n, err = tx.DeleteExpiredSessions(ctx, now.Add(30*time.Second))
			return err
		}))
		if n != 3 { // b0 expired; a1 and a3 revoked at now
			t.Fatalf("deleted %d sessions, want 3", n)
		}
		for id, want := range map[string]bool{"b0": false, "a1": false, "a3": false, "a2": true, "b1": true} {
			_, err := readErr(s, func(tx *store.Tx) (*auth.Session, error) { return tx.Session(ctx, id) })
			if (err == nil) != want {
				t.Errorf("session %s after cleanup: %v", id, err)
			}
		}
	})
}

func TestIdentities(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ana := createUser(t, s, "ana")
		const iss = "https://sso.example"
		identity := func(issuer, subject string) (*auth.User, error) {
			return readErr(s, func(tx *store.Tx) (*auth.User, error) { return tx.IdentityUser(ctx, issuer, subject) })
		}
		if _, err := identity(iss, "s-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unlinked: %v", err)
		}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.LinkIdentity(ctx, iss, "s-1", ana.ID, "ana@example.com", t0)
		}))
		if u, err := identity(iss, "s-1"); err != nil || u.ID != ana.ID || u.Username != "ana" {
			t.Fatalf("linked: %+v %v", u, err)
		}
		for _, k := range [][2]string{{iss, "s-2"}, {"https://other.example", "s-1"}} {
			if _, err := identity(k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%v: %v", k, err)
			}
		}
		bo := createUser(t, s, "bo")
		if err := write(s, func(ctx context.Context, tx *store.Tx) error { return tx.LinkIdentity(ctx, iss, "s-1", bo.ID, "", t0) }); !store.IsUnique(err) {
			t.Fatalf("one identity linked twice: %v", err)
		}
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.LinkIdentity(ctx, iss, "s-2", ana.ID, "", t0) }))
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.TouchIdentity(ctx, iss, "s-1", "ana@new.example", t0.Add(time.Hour))
		}))
		var email string
		var last int64
		must(t, s.Read(ctx, func(tx *store.Tx) error {
			rows, err := tx.Names(ctx, `SELECT email FROM identities WHERE issuer = $1 AND subject = $2`, iss, "s-1")
			if len(rows) == 1 {
				email = rows[0]
			}
			if err != nil {
				return err
			}
			var n int
			err = tx.QueryCount(ctx, `SELECT count(*) FROM identities WHERE last_login_at = $1`, &n, t0.Add(time.Hour).UnixMicro())
			last = int64(n)
			return err
		}))
		if email != "ana@new.example" || last != 1 {
			t.Fatalf("touched identity: email %q, %d rows at the new time", email, last)
		}
	})
}

func TestAudit(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var entries []*auth.AuditEntry
		for i, action := range []string{"login", "login_failed", "token_created", "role_changed", "logout"} {
			e := &auth.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "ana", Action: action, Target: "bo", Remote: "192.0.2.7"}
			if i == 2 {
				e.Detail = map[string]any{"scopes": "read,write", "expires": false}
			}
			must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return tx.AppendAudit(ctx, e) }))
			if e.ID == 0 || (i > 0 && e.ID <= entries[i-1].ID) {
				t.Fatalf("entry %d has id %d", i, e.ID)
			}
			entries = append(entries, e)
		}
		list := func(limit int, before int64) []*auth.AuditEntry {
			return read(t, s, func(tx *store.Tx) ([]*auth.AuditEntry, error) { return tx.Audit(ctx, limit, before) })
		}
		actions := func(l []*auth.AuditEntry) []string {
			var out []string
			for _, e := range l {
				out = append(out, e.Action)
			}
			return out
		}
		if got := actions(list(3, 0)); !slices.Equal(got, []string{"logout", "role_changed", "token_created"}) {
			t.Fatalf("newest first: %v", got)
		}
		if got := actions(list(3, entries[2].ID)); !slices.Equal(got, []string{"login_failed", "login"}) {
			t.Fatalf("before the third: %v", got)
		}
		got := list(1, entries[3].ID)[0]
		if !reflect.DeepEqual(got, entries[2]) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, entries[2])
		}
		if got := list(1, entries[1].ID)[0]; got.Detail == nil || len(got.Detail) != 0 {
			t.Fatalf("entry without detail: %#v", got.Detail)
		}

		// A counted entry gets its final count.
		must(t, write(s, func(ctx context.Context, tx *store.Tx) error {
			return tx.SetAuditDetail(ctx, entries[1].ID, map[string]any{"count": 30})
		}))
		if got := list(1, entries[2].ID)[0]; got.Action != "login_failed" || got.Detail["count"] != 30.0 {
			t.Fatalf("after SetAuditDetail: %+v", got)
		}

		// Retention removes only the given actions before the cutoff.
		deleteBefore := func(actions []string, cutoff time.Time) int64 {
			var n int64
			must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) {
				n, err = tx.DeleteAuditBefore(ctx, actions, cutoff)
				return err
			}))
			return n
		}
		if n := deleteBefore(nil, t0.Add(time.Hour)); n != 0 {
			t.Fatalf("no actions deleted %d", n)
		}
		// login at t0 and login_failed at t0+1m are old; logout at t0+4m is not.
		if n := deleteBefore([]string{"login", "login_failed", "logout"}, t0.Add(2*time.Minute)); n != 2 {
			t.Fatalf("deleted %d, want 2", n)
		}
		if got := actions(list(10, 0)); !slices.Equal(got, []string{"logout", "role_changed", "token_created"}) {
			t.Fatalf("after retention: %v", got)
		}
	})
}
