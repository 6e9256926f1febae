package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// Alert keys on SQLite.
//
// Every alert is found by (integration, fingerprint). A unique index on
// those columns cost one random index page per new alert, written to the
// WAL at commit and again by the checkpoint: in an alert storm that was
// most of the single writer's time and 4 KB of writes per alert.
//
// SQLite therefore keeps the key index in two levels, like a log-structured
// merge tree:
//
//   - alert_keys, on disk: a 64-bit hash of the key and the alert's id,
//     16 bytes a row, filled in sorted runs;
//   - recent, in the writer's memory: the keys of the alerts stored since,
//     rebuilt at start from the rows past a low-water mark (the counter
//     'alert_keys': every alert up to that id has its row in alert_keys).
//
// Once recent holds mergeAt keys, the writer moves the keys of one
// sixteenth of the hash space into alert_keys between batches: they land
// on a sixteenth of its pages, so a page is written once for many alerts
// and the pause stays short. A hash names candidates only; the alert row
// is compared, so a collision costs a read, never a wrong match.
//
// PostgreSQL keeps its unique index on alerts: several replicas write, and
// its pages are not written by one serial writer.

// keySlices is how many parts of the hash space merge one at a time.
const keySlices = 16

// mergeAt is how many recent keys make the writer merge a slice: about
// 100 bytes of memory each.
const mergeAt = 32 << 10

// alertKey is the hash alert_keys stores for (integration, fingerprint).
func alertKey(integration, fingerprint string) int64 {
	return nameKey(recentName(integration, fingerprint))
}

// nameKey is the 64-bit FNV-1a hash of a recentName, computed in place:
// hash/fnv's hasher and the byte copy of the name were allocations on
// the writer's path for every alert.
func nameKey(name string) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= prime
	}
	return int64(h)
}

func keySlice(k int64) int { return int(uint64(k) >> 60) }

var registerKeyFunc sync.Once

// registerAlertKey lets SQL compute alertKey, for the migration that fills
// alert_keys from the alerts already stored.
func registerAlertKey() {
	registerKeyFunc.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("quench_alert_key", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			in, ok1 := args[0].(string)
			fp, ok2 := args[1].(string)
			if !ok1 || !ok2 {
				return nil, errors.New("quench_alert_key takes two strings")
			}
			return alertKey(in, fp), nil
		})
	})
}

// recentKeys is the in-memory level: the keys of alerts not yet merged
// into alert_keys. Only the writer goroutine uses it.
type recentKeys struct {
	// mergeAt is how many keys make the writer merge a slice (tests
	// lower it).
	mergeAt int
	loaded  bool
	slices  [keySlices]map[string]recentKey
	n       int
	// maxID is the highest alert id seen: the low-water mark when
	// nothing recent is left.
	maxID int64
	next  int
	// added lists the keys added by the batch in progress, so a job or a
	// batch that rolls back takes its keys back.
	added []recentAdd
	// filter is the Bloom filter of alert_keys once filled; filling the one
	// being filled (keyfilter.go).
	filter, filling *keyFilter
	// filterMin and fillChunk are filterMinKeys and filterChunk (tests
	// lower them).
	filterMin, fillChunk int
}

type recentAdd struct {
	name string
	id   int64
}

type recentKey struct {
	id, k int64
}

func newRecentKeys() *recentKeys {
	r := &recentKeys{mergeAt: mergeAt, filterMin: filterMinKeys, fillChunk: filterChunk}
	for i := range r.slices {
		r.slices[i] = map[string]recentKey{}
	}
	return r
}

func recentName(integration, fingerprint string) string { return integration + "\x00" + fingerprint }

// load reads the alerts past the low-water mark, once.
func (r *recentKeys) load(ctx context.Context, q querier) error {
	if r.loaded {
		return nil
	}
	var low int64
	if err := q.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'alert_keys'`).Scan(&low); err != nil {
		return fmt.Errorf("alert keys: %w", noRows(err))
	}
	rows, err := q.QueryContext(ctx, `SELECT id, integration_id, fingerprint FROM alerts WHERE id > $1`, low)
	if err != nil {
		return err
	}
	defer rows.Close()
	r.maxID = low
	for rows.Next() {
		var id int64
		var in, fp string
		if err := rows.Scan(&id, &in, &fp); err != nil {
			return err
		}
		r.put(recentName(in, fp), recentKey{id: id, k: alertKey(in, fp)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.loaded = true
	return nil
}

func (r *recentKeys) lookup(integration, fingerprint string) (recentKey, bool) {
	name := recentName(integration, fingerprint)
	e, ok := r.slices[keySlice(nameKey(name))][name]
	return e, ok
}

// lookupName is lookup with the name and its hash computed already.
func (r *recentKeys) lookupName(name string, k int64) (recentKey, bool) {
	e, ok := r.slices[keySlice(k)][name]
	return e, ok
}

func (r *recentKeys) put(name string, e recentKey) {
	s := r.slices[keySlice(e.k)]
	if _, ok := s[name]; !ok {
		r.n++
	}
	s[name] = e
	r.maxID = max(r.maxID, e.id)
}

// add records a key stored by the batch in progress.
func (r *recentKeys) add(integration, fingerprint string, id int64) {
	name := recentName(integration, fingerprint)
	r.addName(name, nameKey(name), id)
}

// addName is add with the name and its hash computed already.
func (r *recentKeys) addName(name string, k int64, id int64) {
	r.put(name, recentKey{id: id, k: k})
	r.added = append(r.added, recentAdd{name, id})
}

// mark and undo take back the keys a rolled-back job or batch added.
func (r *recentKeys) mark() int { return len(r.added) }

func (r *recentKeys) undo(mark int) {
	for _, a := range r.added[mark:] {
		s := r.slices[keySlice(nameKey(a.name))]
		if e, ok := s[a.name]; ok && e.id == a.id {
			delete(s, a.name)
			r.n--
		}
	}
	r.added = r.added[:mark]
}

// keep forgets the undo list once the batch committed.
func (r *recentKeys) keep() { r.added = r.added[:0] }

// low is the low-water mark once slice i is merged: below the oldest key
// left in the other slices.
func (r *recentKeys) low(merged int) int64 {
	low := r.maxID
	for i := range r.slices {
		if i == merged {
			continue
		}
		for _, e := range r.slices[i] {
			low = min(low, e.id-1)
		}
	}
	return low
}

// mergeKeys moves one slice of the recent keys into alert_keys in its own
// transaction, once enough have gathered; the writer calls it between
// batches. A failure leaves the keys in memory, where lookups still find
// them, and is tried again after the next batch.
func (s *Store) mergeKeys() {
	r := s.recent
	if r == nil || !r.loaded || r.n < r.mergeAt {
		return
	}
	i := r.next
	if err := s.mergeSlice(i); err != nil {
		s.log.Error("alert keys: merge failed", "slice", i, "err", err)
		return
	}
	r.next = (i + 1) % keySlices
}

func (s *Store) mergeSlice(i int) error {
	r := s.recent
	slice := r.slices[i]
	entries := make([]recentKey, 0, len(slice))
	for _, e := range slice {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b recentKey) int { return cmp.Or(cmp.Compare(a.k, b.k), cmp.Compare(a.id, b.id)) })
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const chunk = 500
	for start := 0; start < len(entries); start += chunk {
		part := entries[start:min(start+chunk, len(entries))]
		args := make([]any, 0, 2*len(part))
		for _, e := range part {
			args = append(args, e.k, e.id)
		}
		// OR IGNORE: a key loaded at start may have been merged already.
		q := `INSERT OR IGNORE INTO alert_keys (k, alert_id) VALUES ` + strings.Repeat("(?, ?), ", len(part)-1) + `(?, ?)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = $1 WHERE name = 'alert_keys'`, r.low(i)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.merged(entries)
	r.n -= len(slice)
	r.slices[i] = map[string]recentKey{}
	return nil
}
