package store

import (
	"context"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/alert"
)

// Routing rules and snoozes kept in memory by a PostgreSQL replica's
// intake, under a version in the database.
//
// Why: every group transaction read the rules (and a storm's the
// snoozes) again, tables that change a few times a year. A replica read
// 3 to 8 deliveries per transaction; with three replicas, fewer, and the
// reads were a large share of what a transaction costs PostgreSQL and
// Quench beyond its alerts (an experiment serving them from memory took
// 15 to 20% off PostgreSQL's CPU per alert).
//
// How it stays right across replicas: every transaction that writes a
// rule or a snooze adds one to the counter "routing_version" (bumpRouting,
// in the same transaction). Intake reads the counter with the
// integration, in the transaction's first statement (IntakeIntegration),
// and uses what it holds only if it was read under that version;
// otherwise it reads the tables, after the counter, and keeps them under
// it. A transaction therefore never routes with rules older than those
// committed before its first statement; what it keeps is never older than
// the version it is kept under.

// routingVersion names the counter of rule and snooze changes.
const routingVersion = "routing_version"

// routingCache is a replica's copy of the rules and snoozes.
type routingCache struct {
	mu sync.Mutex
	// rules were read under version rulesAt (rulesOK).
	rulesOK bool
	rulesAt int64
	rules   []*alert.Rule
	// snoozes were read under version snoozesAt at time readAt: those
	// that ended after readAt.
	snoozesOK bool
	snoozesAt int64
	readAt    time.Time
	snoozes   []*alert.Snooze
}

// bumpRouting notes a change of the rules or snoozes for the replicas'
// copies (PostgreSQL; SQLite's writer keeps its own, tablecache.go).
func (t *Tx) bumpRouting(ctx context.Context) error {
	if t.dialect != Postgres {
		return nil
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = counters.value + 1`, routingVersion)
	return err
}

// integrationAndRouting reads a live integration and the version of the
// rules and snoozes in one statement.
func (t *Tx) integrationAndRouting(ctx context.Context, id string) (*alert.Integration, error) {
	var version int64
	in, err := scanIntegration(extraScan{t.q.QueryRowContext(ctx, `SELECT `+integrationColumns+`,
		COALESCE((SELECT value FROM counters WHERE name = $2), 0)
		FROM integrations WHERE id = $1 AND deleted_at IS NULL`, id, routingVersion), &version})
	if err == nil {
		t.pg.routing, t.pg.routingKnown = version, true
	}
	return in, err
}

// extraScan scans one more column after those scanIntegration takes.
type extraScan struct {
	row   scanner
	extra any
}

func (e extraScan) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra)...) }

// cachedRules returns the rules kept under the transaction's version, or
// reads and keeps them. ok is false outside a PostgreSQL group
// transaction that read the version.
func (t *Tx) cachedRules(read func() ([]*alert.Rule, error)) (list []*alert.Rule, ok bool, err error) {
	if t.pg == nil || !t.pg.routingKnown || t.pg.routingCache == nil {
		return nil, false, nil
	}
	c, v := t.pg.routingCache, t.pg.routing
	c.mu.Lock()
	if c.rulesOK && c.rulesAt == v {
		list = c.rules
		c.mu.Unlock()
		return list, true, nil
	}
	c.mu.Unlock()
	if list, err = read(); err != nil {
		return nil, true, err
	}
	c.mu.Lock()
	if !c.rulesOK || c.rulesAt <= v {
		c.rulesOK, c.rulesAt, c.rules = true, v, list
	}
	c.mu.Unlock()
	return list, true, nil
}

// cachedSnoozes is cachedRules for the snoozes holding at now.
func (t *Tx) cachedSnoozes(now time.Time, read func(time.Time) ([]*alert.Snooze, error)) (list []*alert.Snooze, ok bool, err error) {
	if t.pg == nil || !t.pg.routingKnown || t.pg.routingCache == nil {
		return nil, false, nil
	}
	c, v := t.pg.routingCache, t.pg.routing
	c.mu.Lock()
	if c.snoozesOK && c.snoozesAt == v && !now.Before(c.readAt) {
		for _, s := range c.snoozes {
			if s.EndsAt.After(now) {
				list = append(list, s)
			}
		}
		c.mu.Unlock()
		return list, true, nil
	}
	c.mu.Unlock()
	if list, err = read(now); err != nil {
		return nil, true, err
	}
	c.mu.Lock()
	if !c.snoozesOK || c.snoozesAt < v || (c.snoozesAt == v && now.After(c.readAt)) {
		c.snoozesOK, c.snoozesAt, c.readAt, c.snoozes = true, v, now, list
	}
	c.mu.Unlock()
	return list, true, nil
}
