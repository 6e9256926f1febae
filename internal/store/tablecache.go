package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
)

// Small tables the SQLite writer reads for every alert, kept in memory.
//
// Routing rules and snoozes are read for every delivery, checklist
// templates and the status page settings for every incident opened; each
// read was a statement of its own on the single writer, about a third of
// the statements that open an incident from an alert, for tables that
// change a few times a year. They follow chanCache's rules: a version
// counts the changes of each table; a write that touches the table bumps
// it when it runs and again once its batch has committed or rolled back;
// what was read from the database is kept only under the version it was
// read at, so a value read before a change committed is never served
// after it; the writer's own batch, once it touched the table, reads the
// database. Only the SQLite writer uses them: a read transaction's
// snapshot may be older than the version it would be kept under, and
// PostgreSQL has other writers.

// tableCache holds one value read from the database under a version.
type tableCache[T any] struct {
	version atomic.Uint64

	mu  sync.Mutex
	at  uint64
	has bool
	val T
}

func (c *tableCache[T]) bump() { c.version.Add(1) }

// get returns the value kept for the current version, reading it with
// read when there is none. What it returns is shared: callers must not
// change it.
func (c *tableCache[T]) get(read func() (T, error)) (T, error) {
	v := c.version.Load()
	c.mu.Lock()
	if c.has && c.at == v {
		val := c.val
		c.mu.Unlock()
		return val, nil
	}
	c.mu.Unlock()
	val, err := read()
	if err != nil {
		return val, err
	}
	c.mu.Lock()
	if c.version.Load() == v {
		c.at, c.val, c.has = v, val, true
	}
	c.mu.Unlock()
	return val, nil
}

// table names one cached table, a bit of Tx.touched.
type table uint8

const (
	tableRules table = 1 << iota
	tableSnoozes
	tableTemplates
	tableStatusSettings
)

// tableCaches are the SQLite store's cached tables.
type tableCaches struct {
	rules     tableCache[[]*alert.Rule]
	snoozes   tableCache[snoozesRead]
	templates tableCache[[]*incident.Template]
	status    tableCache[statusRead]
}

// snoozesRead is the snoozes ending after at, as read at at.
type snoozesRead struct {
	at   time.Time
	list []*alert.Snooze
}

// statusRead is what StatusSettings returns.
type statusRead struct {
	settings map[string]string
	updated  time.Time
}

func (c *tableCaches) bump(touched table) {
	if touched&tableRules != 0 {
		c.rules.bump()
	}
	if touched&tableSnoozes != 0 {
		c.snoozes.bump()
	}
	if touched&tableTemplates != 0 {
		c.templates.bump()
	}
	if touched&tableStatusSettings != 0 {
		c.status.bump()
	}
}

// touch notes that this transaction writes table: its cache is bumped now
// and once the batch ends, and this transaction reads the database from
// now on.
func (t *Tx) touch(tb table) {
	if t.caches == nil {
		return
	}
	t.touched |= tb
	t.caches.bump(tb)
}

// cached reports whether this transaction may read table from its cache.
func (t *Tx) cached(tb table) bool { return t.caches != nil && t.touched&tb == 0 }
