package service

import (
	"context"
	"time"

	"github.com/quenchhq/quench/internal/store"
)

// Intake on PostgreSQL: deliveries share group transactions
// (store.WriteGrouped), and what they change in the counts kept on
// integrations and incidents is added up and written once per group
// transaction, at its end (store.Tx.Defer): the rows of a hot integration
// and of a storm's incident are then held from that write to the commit
// only, not from the first delivery of the group on, and a storm's
// incident gets one update (and one look at its "alerts resolved" hint)
// per commit instead of one per delivery. On SQLite the counts are
// written at once, as before.

// countsKey names intake's deferred counts in a transaction.
const countsKey = "service.intake.counts"

// writeOrDefer writes the counts now, or at the end of a PostgreSQL group
// transaction, added to those of its other deliveries.
func (t *countChanges) writeOrDefer(ctx context.Context, tx *store.Tx, s *Service, actor string, now time.Time) error {
	t.s, t.actor, t.now = s, actor, now
	if tx.Defer(countsKey, t) {
		return nil
	}
	return t.write(ctx, tx, s, actor, now)
}

// Merge adds a later delivery's counts to t (store.Deferred).
func (t *countChanges) Merge(later store.Deferred) {
	o := later.(*countChanges)
	for n, c := range o.incidents {
		d := t.incident(n)
		d.attached += c.attached
		d.firing += c.firing
		d.truncated = max(d.truncated, c.truncated)
	}
	for id, v := range o.inbox {
		t.inbox[id] += v
	}
	for id, at := range o.lastAlert {
		if at.After(t.lastAlert[id]) {
			t.lastAlert[id] = at
		}
	}
	t.actor, t.now = o.actor, o.now
}

// Flush writes the counts (store.Deferred).
func (t *countChanges) Flush(ctx context.Context, tx *store.Tx) error {
	return t.write(ctx, tx, t.s, t.actor, t.now)
}

// lock locks the delivery's integration before it changes alerts stored
// already or may open an incident, so that deliveries of one integration
// do that one after the other on every replica: two re-sends of a new
// group then never open two incidents. What an earlier look found open
// for a group may have changed while it waited: it is looked up again.
func (g *ingestion) lock() error {
	if g.locked {
		return nil
	}
	in, err := g.tx.LockIntegration(g.ctx, g.in.ID)
	if err != nil {
		return err
	}
	g.in, g.locked = in, true
	clear(g.groups)
	return nil
}
