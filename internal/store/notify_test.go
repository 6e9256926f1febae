package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

func mustWrite(t testing.TB, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func newChannel(t testing.TB, s *store.Store, name string) *notify.Channel {
	t.Helper()
	c := &notify.Channel{Type: notify.Webhook, Name: name, URL: "http://127.0.0.1:9/" + name, Secret: "whsec_x",
		Audience: notify.Team, Events: []notify.Event{"*"}, CreatedAt: t0, UpdatedAt: t0}
	mustWrite(t, s, func(tx *store.Tx) error { return tx.InsertChannel(context.Background(), c) })
	return c
}

func enqueue(t testing.TB, s *store.Store, ch *notify.Channel, number int64, e notify.Event, at time.Time) *notify.Delivery {
	t.Helper()
	key := fmt.Sprintf("msg_%d_%s_%d_%d", ch.ID, e, number, at.UnixNano())
	d := &notify.Delivery{Key: key, ChannelID: ch.ID, Incident: number, Event: e, CreatedAt: at,
		Message: notify.Message{ID: key, Event: e, At: at, Headline: string(e), Incident: notify.Incident{Number: number}}}
	mustWrite(t, s, func(tx *store.Tx) error {
		ok, err := tx.EnqueueDelivery(context.Background(), d, 0)
		if err == nil && !ok {
			err = errors.New("not inserted")
		}
		return err
	})
	return d
}

func lease(t *testing.T, s *store.Store, now time.Time, by string, limit, per int, room map[int64]int) []*notify.Delivery {
	t.Helper()
	var out []*notify.Delivery
	mustWrite(t, s, func(tx *store.Tx) (err error) {
		out, err = tx.Lease(context.Background(), now, now.Add(15*time.Second), by, limit, per, room)
		return err
	})
	return out
}

func keys(ds []*notify.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Key)
	}
	return out
}

func TestChannels(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := newChannel(t, s, "ops")
		c.Filter = notify.Filter{Severities: []string{"critical"}, Labels: []string{`team="db"`}}
		c.Recipients, c.Disabled, c.UpdatedAt = []string{"a@example.com"}, true, t0.Add(time.Minute)
		mustWrite(t, s, func(tx *store.Tx) error { return tx.SaveChannel(ctx, c) })
		got := read(t, s, func(tx *store.Tx) (*notify.Channel, error) { return tx.ChannelByName(ctx, "ops") })
		if got.ID != c.ID || !got.Disabled || got.Filter.Severities[0] != "critical" || got.Filter.Labels[0] != `team="db"` ||
			got.Recipients[0] != "a@example.com" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) || got.Secret != "whsec_x" {
			t.Fatalf("read back %+v", got)
		}
		dup := &notify.Channel{Type: notify.Slack, Name: "ops", Audience: notify.Public, CreatedAt: t0, UpdatedAt: t0}
		if err := s.Write(ctx, func(tx *store.Tx) error { return tx.InsertChannel(ctx, dup) }); err == nil {
			t.Fatal("a second channel named ops was stored")
		}
		newChannel(t, s, "alpha")
		list := read(t, s, func(tx *store.Tx) ([]*notify.Channel, error) { return tx.Channels(ctx) })
		if len(list) != 2 || list[0].Name != "alpha" {
			t.Fatalf("channels by name: %v", list)
		}
		enqueue(t, s, c, 1, notify.Opened, t0)
		mustWrite(t, s, func(tx *store.Tx) error { return tx.DeleteChannel(ctx, c.ID) })
		if err := s.Read(ctx, func(tx *store.Tx) error { _, err := tx.Channel(ctx, c.ID); return err }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted channel: %v", err)
		}
		if err := s.Write(ctx, func(tx *store.Tx) error { return tx.DeleteChannel(ctx, c.ID) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting twice: %v", err)
		}
		if ds := read(t, s, func(tx *store.Tx) ([]*notify.Delivery, error) { return tx.Deliveries(ctx, store.DeliveryFilter{}) }); len(ds) != 0 {
			t.Fatalf("messages of a deleted channel stay: %v", keys(ds))
		}
	})
}

func TestOutboxLanes(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newChannel(t, s, "a"), newChannel(t, s, "b")
		a1 := enqueue(t, s, a, 1, notify.Opened, t0)
		a2 := enqueue(t, s, a, 1, notify.PhaseChanged, t0.Add(time.Second))
		a3 := enqueue(t, s, a, 2, notify.Opened, t0.Add(2*time.Second))
		b1 := enqueue(t, s, b, 1, notify.Opened, t0)
		// The same key again is not a second message.
		mustWrite(t, s, func(tx *store.Tx) error {
			ok, err := tx.EnqueueDelivery(ctx, &notify.Delivery{Key: a1.Key, ChannelID: a.ID, Incident: 1, Event: notify.Opened, CreatedAt: t0}, 0)
			if ok {
				return errors.New("a repeated key was inserted")
			}
			return err
		})

		now := t0.Add(3 * time.Second)
		got := lease(t, s, now, "w1", 10, 4, nil)
		if want := []string{a1.Key, b1.Key, a3.Key}; !slices.Equal(keys(got), want) {
			t.Fatalf("first lease %v, want the head of each lane %v", keys(got), want)
		}
		if again := lease(t, s, now, "w2", 10, 4, nil); len(again) != 0 {
			t.Fatalf("leased twice: %v", keys(again))
		}
		for _, d := range []*notify.Delivery{b1, a3} {
			mustWrite(t, s, func(tx *store.Tx) error {
				return tx.FinishDelivery(ctx, d.ID, store.Outcome{State: notify.Sent, At: now, Attempted: true})
			})
		}
		// A failing head holds its lane back; the lane moves on once it is sent.
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, a1.ID, store.Outcome{State: notify.Failing, At: now, NextAttemptAt: now.Add(time.Minute), Error: "HTTP 503", Attempted: true})
		})
		if got := lease(t, s, now.Add(time.Second), "w1", 10, 4, nil); len(got) != 0 {
			t.Fatalf("lane did not wait for its failing head: %v", keys(got))
		}
		later := now.Add(time.Minute)
		if got := lease(t, s, later, "w1", 10, 4, nil); !slices.Equal(keys(got), []string{a1.Key}) {
			t.Fatalf("retry lease %v", keys(got))
		}
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, a1.ID, store.Outcome{State: notify.Sent, At: later, Attempted: true})
		})
		if got := lease(t, s, later, "w1", 10, 4, nil); !slices.Equal(keys(got), []string{a2.Key}) {
			t.Fatalf("after the head was sent: %v", keys(got))
		}
		d := read(t, s, func(tx *store.Tx) (*notify.Delivery, error) { return tx.Delivery(ctx, a1.ID) })
		if d.State != notify.Sent || d.Attempts != 2 || !d.SentAt.Equal(later) || d.Channel != "a" || d.Message.Headline != "incident.opened" {
			t.Fatalf("sent message reads %+v", d)
		}
		// Sent stays sent: a late outcome from an expired lease changes nothing.
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, a1.ID, store.Outcome{State: notify.Failing, At: later, NextAttemptAt: later, Attempted: true})
		})
		if d := read(t, s, func(tx *store.Tx) (*notify.Delivery, error) { return tx.Delivery(ctx, a1.ID) }); d.State != notify.Sent {
			t.Fatalf("a sent message became %s", d.State)
		}
		if err := s.Write(ctx, func(tx *store.Tx) error { _, err := tx.RetryDelivery(ctx, a1.ID, later); return err }); err == nil {
			t.Fatal("a sent message was retried")
		}
	})
}

func TestOutboxLeaseExpiryAndRoom(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newChannel(t, s, "a"), newChannel(t, s, "b")
		for i := range int64(6) {
			enqueue(t, s, a, 10+i, notify.Opened, t0)
		}
		b1 := enqueue(t, s, b, 1, notify.Opened, t0.Add(time.Second))
		got := lease(t, s, t0.Add(2*time.Second), "w1", 10, 2, map[int64]int{a.ID: 1})
		if len(got) != 2 || got[0].ChannelID != a.ID || got[1].Key != b1.Key {
			t.Fatalf("room per channel not kept: %v", keys(got))
		}
		if got := lease(t, s, t0.Add(3*time.Second), "w1", 10, 2, nil); len(got) != 2 {
			t.Fatalf("second lease took %d, want 2 of channel a", len(got))
		}
		// Leases run out: a crashed worker's messages go to another.
		after := t0.Add(20 * time.Second)
		if got := lease(t, s, after, "w2", 1, 4, nil); len(got) != 1 {
			t.Fatalf("expired leases not taken over: %v", keys(got))
		}
		mustWrite(t, s, func(tx *store.Tx) error { return tx.ReleaseLeases(ctx) })
		if got := lease(t, s, after, "w3", 100, 100, nil); len(got) != 7 {
			t.Fatalf("after releasing every lease, %d leased, want 7", len(got))
		}
		st := read(t, s, func(tx *store.Tx) (store.OutboxStats, error) { return tx.OutboxStats(ctx) })
		if st.Pending != 7 || st.Failing != 0 || !st.OldestDue.Equal(t0) {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestOutboxRetryAndFilter(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := newChannel(t, s, "a")
		d1 := enqueue(t, s, a, 1, notify.Opened, t0)
		d2 := enqueue(t, s, a, 2, notify.Opened, t0)
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, d1.ID, store.Outcome{State: notify.Failed, At: t0, Error: "HTTP 404", Attempted: true})
		})
		failed := read(t, s, func(tx *store.Tx) ([]*notify.Delivery, error) {
			return tx.Deliveries(ctx, store.DeliveryFilter{States: []notify.State{notify.Failed}})
		})
		if len(failed) != 1 || failed[0].Key != d1.Key || failed[0].LastError != "HTTP 404" {
			t.Fatalf("failed: %v", keys(failed))
		}
		if ds := read(t, s, func(tx *store.Tx) ([]*notify.Delivery, error) {
			return tx.Deliveries(ctx, store.DeliveryFilter{Incident: 2})
		}); !slices.Equal(keys(ds), []string{d2.Key}) {
			t.Fatalf("by incident: %v", keys(ds))
		}
		now := t0.Add(time.Hour)
		mustWrite(t, s, func(tx *store.Tx) error { _, err := tx.RetryDelivery(ctx, d1.ID, now); return err })
		if got := lease(t, s, now, "w", 10, 4, nil); len(got) != 2 {
			t.Fatalf("retried message not due: %v", keys(got))
		}
		if err := s.Write(ctx, func(tx *store.Tx) error { _, err := tx.RetryDelivery(ctx, 999, now); return err }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retry of a missing message: %v", err)
		}
		var first, again bool
		mustWrite(t, s, func(tx *store.Tx) (err error) {
			first, err = tx.RecordNudge(ctx, 1, "incident.stuck", "active", t0, now)
			return err
		})
		mustWrite(t, s, func(tx *store.Tx) (err error) {
			again, err = tx.RecordNudge(ctx, 1, "incident.stuck", "active", t0, now)
			return err
		})
		if !first || again {
			t.Fatalf("nudge recorded first=%v again=%v", first, again)
		}
	})
}

func TestFinishedMessagesExpire(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := newChannel(t, s, "a")
		sent := enqueue(t, s, a, 1, notify.Opened, t0)
		waiting := enqueue(t, s, a, 2, notify.Opened, t0)
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, sent.ID, store.Outcome{State: notify.Sent, At: t0, Attempted: true})
		})
		var n int64
		mustWrite(t, s, func(tx *store.Tx) (err error) { n, err = tx.DeleteFinishedMessages(ctx, t0.Add(time.Hour)); return err })
		left := read(t, s, func(tx *store.Tx) ([]*notify.Delivery, error) { return tx.Deliveries(ctx, store.DeliveryFilter{}) })
		if n != 1 || len(left) != 1 || left[0].Key != waiting.Key {
			t.Fatalf("removed %d, left %v", n, keys(left))
		}
	})
}

// A channel without room that has a long backlog does not hold back the
// others: the lease leaves it out. A lease that is not deep looks at the
// 512 oldest due messages only, and says when it may have missed some.
func TestOutboxLeaseSkipsFullChannels(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		a, b := newChannel(t, s, "a"), newChannel(t, s, "b")
		backlog(t, s, a, 600)
		b1 := enqueue(t, s, b, 1, notify.Opened, t0.Add(time.Hour))
		now := t0.Add(2 * time.Hour)
		shallow := func(room map[int64]int) ([]*notify.Delivery, bool) {
			var ds []*notify.Delivery
			var hidden bool
			mustWrite(t, s, func(tx *store.Tx) (err error) {
				ds, hidden, err = tx.LeaseDue(context.Background(), store.LeaseRequest{Now: now, Until: now.Add(15 * time.Second), By: "w1",
					Limit: 10, PerChannel: 4, Room: room})
				return err
			})
			return ds, hidden
		}
		if got, hidden := shallow(map[int64]int{a.ID: 0}); len(got) != 0 || !hidden {
			t.Fatalf("a shallow lease behind 600 messages of a full channel leased %v, hidden %v; want nothing, hidden", keys(got), hidden)
		}
		if got := lease(t, s, now, "w1", 10, 4, map[int64]int{a.ID: 0}); !slices.Equal(keys(got), []string{b1.Key}) {
			t.Fatalf("with channel a full, a deep lease leased %v, want b's message", keys(got))
		}
		// With room, the oldest come first, at most room of them.
		got, hidden := shallow(map[int64]int{a.ID: 3})
		if len(got) != 3 || got[0].Key != "backlog_a_0" || got[2].Key != "backlog_a_2" || hidden {
			t.Fatalf("with room 3 in a, leased %v (hidden %v)", keys(got), hidden)
		}
	})
}

// backlog queues n incident.opened messages to c, one incident each,
// created a microsecond apart from t0.
func backlog(t testing.TB, s *store.Store, c *notify.Channel, n int) {
	t.Helper()
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			key := fmt.Sprintf("backlog_%s_%d", c.Name, i)
			d := &notify.Delivery{Key: key, ChannelID: c.ID, Incident: int64(1000 + i), Event: notify.Opened,
				CreatedAt: t0.Add(time.Duration(i) * time.Microsecond), Message: notify.Message{ID: key, Event: notify.Opened}}
			if _, err := tx.EnqueueDelivery(context.Background(), d, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// What one lease costs with 10,000 due messages of a channel that has no
// room ahead of one message of another: a deep lease walks past the full
// channel's rows (it used to rank every due message), a shallow one stops
// at the window.
//
//	go test -run NONE -bench LeaseBacklog ./internal/store/
func BenchmarkLeaseBacklog(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		s := testenv.NewStore(b, d)
		a, c := newChannel(b, s, "a"), newChannel(b, s, "b")
		backlog(b, s, a, 10000)
		enqueue(b, s, c, 1, notify.Opened, t0.Add(time.Hour))
		at := t0.Add(2 * time.Hour)
		for _, deep := range []bool{true, false} {
			name, want := string(d)+"/shallow", 0
			if deep {
				name, want = string(d)+"/deep", 1
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					// The lease ends at once, so every round finds b's message anew.
					at = at.Add(time.Microsecond)
					err := s.Write(context.Background(), func(tx *store.Tx) error {
						ds, _, err := tx.LeaseDue(context.Background(), store.LeaseRequest{Now: at, Until: at, By: "w", Limit: 28,
							PerChannel: 4, Room: map[int64]int{a.ID: 0}, Deep: deep})
						if err == nil && len(ds) != want {
							err = fmt.Errorf("leased %d, want %d", len(ds), want)
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// A claim checks again what the candidates were read for: a message whose
// lane got an older unfinished message back (a failed one retried by
// hand), or that another worker claimed meanwhile, is not claimed.
func TestOutboxClaimChecksAgain(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := newChannel(t, s, "a")
		a1 := enqueue(t, s, a, 1, notify.Opened, t0)
		a2 := enqueue(t, s, a, 1, notify.PhaseChanged, t0.Add(time.Second))
		b1 := enqueue(t, s, a, 2, notify.Opened, t0.Add(2*time.Second))
		mustWrite(t, s, func(tx *store.Tx) error {
			return tx.FinishDelivery(ctx, a1.ID, store.Outcome{State: notify.Failed, At: t0, Error: "HTTP 404", Attempted: true})
		})
		now := t0.Add(time.Minute)
		var ids []int64
		if err := s.Read(ctx, func(tx *store.Tx) (err error) {
			ids, _, err = tx.LeaseCandidates(ctx, store.LeaseRequest{Now: now, Until: now.Add(15 * time.Second), By: "w1", Limit: 10, PerChannel: 4})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, []int64{a2.ID, b1.ID}) {
			t.Fatalf("candidates %v, want a2 %d and b1 %d", ids, a2.ID, b1.ID)
		}
		mustWrite(t, s, func(tx *store.Tx) error { _, err := tx.RetryDelivery(ctx, a1.ID, now); return err })
		if got := lease(t, s, now, "w2", 10, 4, nil); !slices.Equal(keys(got), []string{b1.Key, a1.Key}) {
			t.Fatalf("w2 leased %v, want b1 and the retried head a1", keys(got))
		}
		var got []*notify.Delivery
		mustWrite(t, s, func(tx *store.Tx) (err error) {
			got, err = tx.Claim(ctx, ids, now, now.Add(15*time.Second), "w1")
			return err
		})
		if len(got) != 0 {
			t.Fatalf("w1 claimed %v: a2 waits for its lane's head again, b1 is w2's", keys(got))
		}
	})
}
