package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func newIncident(t *testing.T, s *store.Store, mutate func(*incident.Incident)) *incident.Incident {
	t.Helper()
	inc := &incident.Incident{
		Title: "Spot instances fail to launch", Severity: incident.Major, Services: []string{"runners"},
		Labels: map[string]string{"team": "ci"}, DetectionSource: incident.SourceAlert, Visibility: incident.Public,
		Phase: incident.Active, EnteredAt: map[incident.Phase]time.Time{incident.Active: t0},
		CreatedBy: "ana", CreatedAt: t0, UpdatedAt: t0,
	}
	if mutate != nil {
		mutate(inc)
	}
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		n, err := tx.NextIncidentNumber(context.Background())
		if err != nil {
			return err
		}
		inc.Number = n
		return tx.InsertIncident(context.Background(), inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func read[T any](t *testing.T, s *store.Store, fn func(tx *store.Tx) (T, error)) T {
	t.Helper()
	var v T
	if err := s.Read(context.Background(), func(tx *store.Tx) (err error) { v, err = fn(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIncidentRoundTrip(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		createUser(t, s, "ana")
		a := newIncident(t, s, func(i *incident.Incident) {
			i.Owners = map[incident.Phase]string{incident.Active: "ana"}
			i.Title = "ümlaut \uFFFD title"
			i.Labels = map[string]string{"k": "v \"quoted\""}
		})
		b := newIncident(t, s, nil)
		if a.Number != 1 || b.Number != 2 {
			t.Fatalf("numbers %d %d", a.Number, b.Number)
		}
		got := read(t, s, func(tx *store.Tx) (*incident.Incident, error) { return tx.Incident(ctx, 1) })
		if got.Title != a.Title || got.Owners[incident.Active] != "ana" || got.Labels["k"] != a.Labels["k"] ||
			!got.EnteredAt[incident.Active].Equal(t0) || !slices.Equal(got.Services, []string{"runners"}) {
			t.Fatalf("round trip: %+v", got)
		}
		_, err := readErr(s, func(tx *store.Tx) (*incident.Incident, error) { return tx.Incident(ctx, 99) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing incident: %v", err)
		}
	})
}

func readErr[T any](s *store.Store, fn func(tx *store.Tx) (T, error)) (T, error) {
	var v T
	err := s.Read(context.Background(), func(tx *store.Tx) (err error) { v, err = fn(tx); return err })
	return v, err
}

func TestUnknownOwnerRefused(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		err := s.Write(context.Background(), func(tx *store.Tx) error {
			inc := &incident.Incident{Number: 5, Title: "x", Severity: incident.Minor, DetectionSource: incident.SourceTeam,
				Visibility: incident.Public, Phase: incident.Active, Owners: map[incident.Phase]string{incident.Active: "ghost"},
				EnteredAt: map[incident.Phase]time.Time{incident.Active: t0}, CreatedAt: t0, UpdatedAt: t0}
			return tx.InsertIncident(context.Background(), inc)
		})
		if !problem.Is(err, "unknown_user") {
			t.Fatalf("got %v", err)
		}
	})
}

// Two transitions from the same phase: the guarded update lets exactly one
// win, however the database interleaves them.
func TestGuardedTransitionRace(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for round := 0; round < 10; round++ {
			inc := newIncident(t, s, nil)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.Write(ctx, func(tx *store.Tx) error {
						cp := *inc
						cp.Phase = incident.Mitigated
						cp.Notes = map[incident.Phase]string{incident.Mitigated: fmt.Sprintf("writer %d", i)}
						return tx.SaveIncident(ctx, &cp, incident.Active, false)
					})
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrConflict):
					t.Fatalf("unexpected error %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d winners", round, won)
			}
		}
	})
}

// Concurrent writes share commits on SQLite; one failing job must roll back
// alone and leave the others committed.
func TestGroupCommitIsolation(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		inc := newIncident(t, s, nil)
		var wg sync.WaitGroup
		errs := make([]error, 64)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Write(ctx, func(tx *store.Tx) error {
					u := &incident.Update{Incident: inc.Number, Author: "ana", Body: fmt.Sprint("update ", i), Visibility: incident.Internal, CreatedAt: t0, UpdatedAt: t0}
					if err := tx.InsertUpdate(ctx, u); err != nil {
						return err
					}
					if i%4 == 0 {
						return errors.New("job fails after writing")
					}
					if i%9 == 0 {
						panic("job panics after writing")
					}
					return nil
				})
			}()
		}
		wg.Wait()
		want := 0
		for i, err := range errs {
			if (i%4 == 0 || (i%9 == 0 && i%4 != 0)) != (err != nil) {
				t.Fatalf("job %d: %v", i, err)
			}
			if err == nil {
				want++
			}
		}
		got := read(t, s, func(tx *store.Tx) ([]*incident.Update, error) { return tx.Updates(ctx, inc.Number, false) })
		if len(got) != want {
			t.Fatalf("%d updates stored, want %d", len(got), want)
		}
	})
}

func TestEventsAppendOnly(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		inc := newIncident(t, s, nil)
		err := s.Write(ctx, func(tx *store.Tx) error {
			return tx.AppendEvent(ctx, &incident.Event{Incident: inc.Number, At: t0, Actor: "ana", Kind: incident.EventCreated, Data: map[string]any{"title": inc.Title}})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`UPDATE events SET actor = 'mallory'`, `DELETE FROM events`} {
			err := s.Write(ctx, func(tx *store.Tx) error { return tx.Exec(ctx, q) })
			if err == nil {
				t.Errorf("%s succeeded", q)
			}
		}
		tl := read(t, s, func(tx *store.Tx) ([]*incident.TimelineEntry, error) { return tx.Timeline(ctx, inc.Number, false) })
		if len(tl) != 1 || tl[0].Actor != "ana" || tl[0].Data["title"] != inc.Title {
			t.Fatalf("timeline %+v", tl)
		}
	})
}

// Events about updates follow the update's visibility now, not when posted.
func TestTimelineFollowsUpdateVisibility(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		inc := newIncident(t, s, nil)
		u := &incident.Update{Incident: inc.Number, Author: "ana", Body: "public first", Visibility: incident.Public, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.Write(ctx, func(tx *store.Tx) error {
			if err := tx.InsertUpdate(ctx, u); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &incident.Event{Incident: inc.Number, At: t0, Actor: "ana", Kind: incident.EventUpdatePosted, UpdateID: u.ID})
		}))
		public := func() int {
			return len(read(t, s, func(tx *store.Tx) ([]*incident.TimelineEntry, error) { return tx.Timeline(ctx, inc.Number, true) }))
		}
		if public() != 1 {
			t.Fatal("public update hidden")
		}
		u.Visibility = incident.Internal
		must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.SetUpdateVisibility(ctx, u) }))
		if public() != 0 {
			t.Fatal("withdrawn update still in the public timeline")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func createUser(t *testing.T, s *store.Store, name string) *auth.User {
	t.Helper()
	u := &auth.User{Username: name, Role: auth.RoleResponder, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.Write(context.Background(), func(tx *store.Tx) error { return tx.InsertUser(context.Background(), u) }))
	return u
}

func TestListFilters(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		createUser(t, s, "bo")
		newIncident(t, s, func(i *incident.Incident) { i.Title = "Certificates broken"; i.Severity = incident.Critical }) // 1
		newIncident(t, s, func(i *incident.Incident) {                                                                    // 2
			i.Phase = incident.Mitigated
			i.Services = []string{"api", "web"}
			i.Owners = map[incident.Phase]string{incident.Mitigated: "bo"}
		})
		newIncident(t, s, func(i *incident.Incident) {
			i.Visibility = incident.Confidential
			i.Labels = map[string]string{"team": "sec"}
		}) // 3
		newIncident(t, s, func(i *incident.Incident) { i.Phase = incident.Closed; i.Title = "100% CPU_usage" }) // 4
		u := &incident.Update{Incident: 1, Author: "bo", Body: "secret CANARY internal", Visibility: incident.Internal, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.InsertUpdate(ctx, u) }))

		tests := []struct {
			name string
			f    store.IncidentFilter
			want []int64
		}{
			{"all newest first", store.IncidentFilter{}, []int64{4, 3, 2, 1}},
			{"public only", store.IncidentFilter{PublicOnly: true}, []int64{4, 2, 1}},
			{"phases", store.IncidentFilter{Phases: []incident.Phase{incident.Active, incident.Closed}}, []int64{4, 3, 1}},
			{"service", store.IncidentFilter{Service: "web"}, []int64{2}},
			{"severity", store.IncidentFilter{Severity: incident.Critical}, []int64{1}},
			{"owner", store.IncidentFilter{Owner: "bo"}, []int64{2}},
			{"no owner", store.IncidentFilter{Owner: "none"}, []int64{3, 1}},
			{"label", store.IncidentFilter{Label: [2]string{"team", "sec"}}, []int64{3}},
			{"query title case-insensitive", store.IncidentFilter{Query: "CERTIFICATES"}, []int64{1}},
			{"query metacharacters literal", store.IncidentFilter{Query: "100%"}, []int64{4}},
			{"query underscore literal", store.IncidentFilter{Query: "u_age"}, nil},
			{"query number", store.IncidentFilter{Query: "#2"}, []int64{2}},
			{"query finds internal update for team", store.IncidentFilter{Query: "canary"}, []int64{1}},
			{"query ignores internal update for viewers", store.IncidentFilter{Query: "canary", PublicOnly: true}, nil},
			{"sql in query", store.IncidentFilter{Query: "'; DROP TABLE incidents; --"}, nil},
			{"sort ascending", store.IncidentFilter{Sort: "number"}, []int64{1, 2, 3, 4}},
			{"paging", store.IncidentFilter{Sort: "number", Limit: 2, Offset: 1}, []int64{2, 3}},
		}
		for _, tt := range tests {
			got := read(t, s, func(tx *store.Tx) ([]*incident.Incident, error) {
				list, _, err := tx.Incidents(ctx, tt.f)
				return list, err
			})
			var nums []int64
			for _, i := range got {
				nums = append(nums, i.Number)
			}
			if !slices.Equal(nums, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, nums, tt.want)
			}
			if tt.f.Limit == 0 {
				// The total is counted apart from the rows (a viewer's
				// without filters as all less the confidential ones).
				if _, total, err := readTotal(s, tt.f); err != nil || total != len(tt.want) {
					t.Errorf("%s: total %d %v, want %d", tt.name, total, err, len(tt.want))
				}
			}
		}
		_, total, err := readTotal(s, store.IncidentFilter{PublicOnly: true, Limit: 1})
		if err != nil || total != 3 {
			t.Errorf("public total %d %v", total, err)
		}
		if _, _, err := readTotal(s, store.IncidentFilter{Sort: "title; DROP"}); !problem.Is(err, "invalid_request") {
			t.Errorf("unknown sort: %v", err)
		}
	})
}

func readTotal(s *store.Store, f store.IncidentFilter) ([]*incident.Incident, int, error) {
	var list []*incident.Incident
	var total int
	err := s.Read(context.Background(), func(tx *store.Tx) (err error) {
		list, total, err = tx.Incidents(context.Background(), f)
		return err
	})
	return list, total, err
}

func TestUsersAndTokens(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := createUser(t, s, "ana")
		dup := &auth.User{Username: "ana", Role: auth.RoleAdmin, CreatedAt: t0, UpdatedAt: t0}
		if err := s.Write(ctx, func(tx *store.Tx) error { return tx.InsertUser(ctx, dup) }); !problem.Is(err, "user_exists") {
			t.Fatalf("duplicate user: %v", err)
		}
		tk := &auth.Token{UserID: u.ID, Name: "cli", Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite}, CreatedAt: t0}
		must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.InsertToken(ctx, tk, "hash1") }))
		var gotTok *auth.Token
		var gotUser *auth.User
		must(t, s.Read(ctx, func(tx *store.Tx) (err error) { gotTok, gotUser, err = tx.TokenByHash(ctx, "hash1"); return err }))
		if gotUser.Username != "ana" || auth.JoinScopes(gotTok.Scopes) != "read,write" || !gotTok.Usable(t0) {
			t.Fatalf("token %+v user %+v", gotTok, gotUser)
		}
		must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.RevokeToken(ctx, tk.ID, t0.Add(time.Hour)) }))
		must(t, s.Write(ctx, func(tx *store.Tx) error { return tx.RevokeToken(ctx, tk.ID, t0.Add(2*time.Hour)) }))
		list := read(t, s, func(tx *store.Tx) ([]*auth.Token, error) { return tx.Tokens(ctx, u.ID) })
		if len(list) != 1 || !list[0].RevokedAt.Equal(t0.Add(time.Hour)) || list[0].Usable(t0.Add(3*time.Hour)) {
			t.Fatalf("revoked token %+v", list[0])
		}
		if _, _, err := func() (*auth.Token, *auth.User, error) {
			var a *auth.Token
			var b *auth.User
			err := s.Read(ctx, func(tx *store.Tx) (err error) { a, b, err = tx.TokenByHash(ctx, "nope"); return err })
			return a, b, err
		}(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}

// A client hanging up while its job runs must not fail the other jobs that
// share its transaction: SQLite rolls back the whole transaction when a
// write statement is interrupted.
func TestCancelledJobDoesNotFailBatch(t *testing.T) {
	s := testenv.NewStore(t, store.SQLite)
	inc := newIncident(t, s, nil)
	const slow = `INSERT INTO counters (name, value)
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT 'n' || x, x FROM c`
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				errs[i] = s.Write(ctx, func(tx *store.Tx) error {
					if i == 0 {
						time.AfterFunc(5*time.Millisecond, cancel) // the request goes away mid-statement
						if err := tx.Exec(ctx, slow); err != nil {
							return err
						}
						return tx.Exec(ctx, `DELETE FROM counters WHERE name LIKE 'n%'`)
					}
					u := &incident.Update{Incident: inc.Number, Author: "ana", Body: "x", Visibility: incident.Internal, CreatedAt: t0, UpdatedAt: t0}
					return tx.InsertUpdate(ctx, u)
				})
			}()
		}
		wg.Wait()
		for i, err := range errs[1:] {
			if err != nil {
				t.Fatalf("round %d: job %d failed because a neighbour was cancelled: %v", round, i+1, err)
			}
		}
	}
}

// Checkpoints run on their own connection, off the writer's path: a
// PASSIVE step copies the whole WAL back so the next commit starts it
// over, a WAL past the limit is started over in the same file (RESTART)
// and one far past it truncated, writes around them stay intact, and
// closing leaves the WAL empty.
func TestBackgroundCheckpoint(t *testing.T) {
	s := testenv.NewStore(t, store.SQLite)
	inc := newIncident(t, s, nil)
	wal := s.Path() + "-wal"
	write := func(n int) {
		for i := 0; i < n; i++ {
			must(t, s.Write(context.Background(), func(tx *store.Tx) error {
				u := &incident.Update{Incident: inc.Number, Author: "ana", Body: strings.Repeat("x", 4000), Visibility: incident.Internal, CreatedAt: t0, UpdatedAt: t0}
				return tx.InsertUpdate(context.Background(), u)
			}))
		}
	}
	walSize := func() int64 {
		t.Helper()
		st, err := os.Stat(wal)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		must(t, err)
		return st.Size()
	}
	const noLimit = 1 << 62
	write(300)
	if frames := store.CheckpointStep(s, noLimit); frames < 300 {
		t.Fatalf("%d frames in the WAL after 300 commits", frames)
	}
	write(1) // starts the fully checkpointed WAL over
	if frames := store.CheckpointStep(s, noLimit); frames > 10 {
		t.Fatalf("%d frames in the WAL after one commit: the checkpoint did not let it start over", frames)
	}
	if walSize() == 0 {
		t.Fatal("a PASSIVE step truncated the WAL")
	}
	// A reader on a snapshot that includes the WAL keeps it from starting
	// over; past the limit the step does not truncate the file under the
	// writer, and the WAL starts over once the reader is done.
	write(300)
	done := make(chan struct{})
	read := make(chan struct{})
	go func() {
		s.Read(context.Background(), func(tx *store.Tx) error {
			var n int
			tx.QueryCount(context.Background(), `SELECT count(*) FROM updates`, &n)
			close(read)
			<-done
			return nil
		})
	}()
	<-read
	write(1)
	if frames := store.CheckpointStep(s, noLimit); frames < 300 {
		t.Fatalf("%d frames: the WAL started over under a reader", frames)
	}
	close(done)
	time.Sleep(10 * time.Millisecond) // the reader ends its transaction
	before := walSize()
	store.CheckpointStep(s, 2<<20) // past 2 MiB, not 8: RESTART
	write(1)
	if frames := store.CheckpointStep(s, noLimit); frames > 10 {
		t.Fatalf("%d frames in the WAL after the RESTART and one commit", frames)
	}
	if n := walSize(); n != before {
		t.Fatalf("the WAL file went from %d to %d bytes: RESTART reuses it", before, n)
	}
	store.CheckpointStep(s, 0) // far past the limit: truncated
	if n := walSize(); n != 0 {
		t.Fatalf("WAL is %d bytes after a step past the limit", n)
	}
	write(1)
	var count int
	must(t, s.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryCount(context.Background(), `SELECT count(*) FROM updates`, &count)
	}))
	if count != 604 {
		t.Fatalf("%d updates", count)
	}
	s.Close()
	if n := walSize(); n != 0 {
		t.Fatalf("WAL is %d bytes after close", n)
	}
}

// A row created after the newest one was deleted gets a new id, on SQLite
// as on PostgreSQL: a stale "remove rule 7" or "tick item 7" then finds
// nothing instead of the row created since.
func TestDeletedIDsNotReused(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		inc := newIncident(t, s, nil)
		kinds := []struct {
			name   string
			insert func(ctx context.Context, tx *store.Tx) (int64, error)
			delete func(ctx context.Context, tx *store.Tx, id int64) error
		}{
			{"rule", func(ctx context.Context, tx *store.Tx) (int64, error) {
				r := &alert.Rule{Position: 1, Name: "r", Action: alert.ActionInbox, CreatedAt: t0}
				err := tx.InsertRule(ctx, r)
				return r.ID, err
			}, func(ctx context.Context, tx *store.Tx, id int64) error { return tx.DeleteRule(ctx, id) }},
			{"checklist item", func(ctx context.Context, tx *store.Tx) (int64, error) {
				it := &incident.ChecklistItem{Incident: inc.Number, Text: "x", Phase: incident.Active, CreatedBy: "ana", CreatedAt: t0}
				err := tx.InsertChecklistItem(ctx, it)
				return it.ID, err
			}, func(ctx context.Context, tx *store.Tx, id int64) error { return tx.DeleteChecklistItem(ctx, id) }},
			{"link", func(ctx context.Context, tx *store.Tx) (int64, error) {
				l := &incident.Link{Incident: inc.Number, Kind: "runbook", URL: "https://x.example", CreatedBy: "ana", CreatedAt: t0}
				err := tx.InsertLink(ctx, l)
				return l.ID, err
			}, func(ctx context.Context, tx *store.Tx, id int64) error { return tx.DeleteLink(ctx, id) }},
		}
		for _, k := range kinds {
			insert := func() int64 {
				var id int64
				must(t, write(s, func(ctx context.Context, tx *store.Tx) (err error) { id, err = k.insert(ctx, tx); return err }))
				return id
			}
			insert()
			newest := insert()
			must(t, write(s, func(ctx context.Context, tx *store.Tx) error { return k.delete(ctx, tx, newest) }))
			if next := insert(); next <= newest {
				t.Errorf("%s: id %d after deleting %d", k.name, next, newest)
			}
		}
	})
}

// A write is answered only once an fsync of the WAL covers its commit,
// made by the syncer after the commit, and its outbox messages reach the
// worker only then; a batch made only of WriteUnsynced jobs asks for no
// fsync, one holding an ordinary write among them does; once an fsync
// fails, no write succeeds any more.
func TestWritesAnsweredOnlyAfterTheWALSync(t *testing.T) {
	s := testenv.NewStore(t, store.SQLite)
	ctx := context.Background()
	var mu sync.Mutex
	var syncs int
	var sameFile bool
	var gate chan struct{}
	var fail error
	store.SetWALSync(s, func(f *os.File) error {
		mu.Lock()
		syncs++
		g, err := gate, fail
		if fi, e1 := f.Stat(); e1 == nil {
			wi, e2 := os.Stat(s.Path() + "-wal")
			sameFile = e2 == nil && os.SameFile(fi, wi)
		}
		mu.Unlock()
		if g != nil {
			<-g
		}
		return err
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return syncs }
	insert := func(write func(context.Context, func(*store.Tx) error) error, name string, fresh int64) error {
		return write(ctx, func(tx *store.Tx) error {
			store.AddFresh(tx, fresh)
			return tx.Exec(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)`, name)
		})
	}
	if err := insert(s.Write, "warm-up", 0); err != nil {
		t.Fatal(err)
	}
	s.TakeFresh()

	// An ordinary write waits for the fsync; so does its message.
	mu.Lock()
	gate = make(chan struct{})
	mu.Unlock()
	before := count()
	done := make(chan error, 1)
	go func() { done <- insert(s.Write, "a", 41) }()
	for count() == before {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the write was answered (%v) while its fsync had not returned", err)
	default:
	}
	if fs, _ := s.TakeFresh(); len(fs) != 0 {
		t.Fatalf("its outbox message reached the worker before the fsync: %v", fs)
	}
	mu.Lock()
	close(gate)
	gate = nil
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.TakeFresh(); len(fs) != 1 || fs[0].ID != 41 {
		t.Fatalf("after the fsync the worker got %v, want message 41", fs)
	}
	mu.Lock()
	if !sameFile {
		t.Errorf("the syncer fsynced a file other than the database's WAL")
	}
	mu.Unlock()

	// Unsynced alone: no fsync.
	before = count()
	if err := insert(s.WriteUnsynced, "b", 0); err != nil {
		t.Fatal(err)
	}
	if count() != before {
		t.Errorf("an unsynced write alone asked for an fsync")
	}

	// One batch of an unsynced and an ordinary write: hold the writer in
	// a first job while both queue behind it.
	release, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[0] = s.WriteUnsynced(ctx, func(tx *store.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	for i, w := range []func(context.Context, func(*store.Tx) error) error{s.WriteUnsynced, s.Write} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = insert(w, fmt.Sprint("c", i), 0)
		}()
	}
	for store.QueuedWrites(s) < 2 {
		time.Sleep(time.Millisecond)
	}
	before = count()
	close(release)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("errors: %v", errs)
	}
	if count() == before {
		t.Errorf("a batch holding an ordinary write was answered without an fsync")
	}

	// A failed fsync fails its write and every later one.
	mu.Lock()
	fail = errors.New("EIO")
	mu.Unlock()
	err := insert(s.Write, "d", 0)
	if p, ok := problem.As(err); !ok || p.Kind != problem.Unavailable {
		t.Fatalf("a write whose fsync failed: %v, want a 503 problem", err)
	}
	mu.Lock()
	fail = nil
	mu.Unlock()
	for _, w := range []func(context.Context, func(*store.Tx) error) error{s.Write, s.WriteUnsynced} {
		if err := insert(w, "e", 0); err == nil {
			t.Fatalf("a write after a failed fsync succeeded")
		}
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatalf("Ping (and with it /readyz) answers after a failed fsync")
	}
}
