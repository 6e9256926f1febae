package store

import (
	"context"
	"math"
	"strconv"
)

// A Bloom filter of alert_keys, in the SQLite writer's memory.
//
// A new alert's key is looked up in alert_keys before the alert is
// inserted: one SELECT per delivery that probed the B-tree once per alert
// and built a temporary index of its IN list, a tenth of the writer's time
// in the inbox. Nearly every key of a delivery of new alerts is absent,
// and a Bloom filter says so from memory: a key it does not hold is not
// in alert_keys, so only the keys it may hold (about 1 in 100 of the
// absent ones) are read from the table.
//
// The filter holds every key of alert_keys once ready: the writer, which
// alone writes alert_keys (mergeSlice), adds the keys it merges, and fills
// the filter from the table in chunks between batches, so a large table
// never stalls a batch for long; until then every key is read from the
// table. A filter past its capacity keeps serving, with more false
// positives, while one twice its size is filled. Keys of alerts deleted
// later stay in the filter: they cost a read, never a wrong answer.

// filterBitsPerKey and filterProbes give about 1% false positives.
const (
	filterBitsPerKey = 10
	filterProbes     = 7
)

// filterMinKeys is the smallest capacity: 80 KiB of bits.
const filterMinKeys = 1 << 16

// filterChunk is how many keys of alert_keys one step between batches
// reads into the filter.
const filterChunk = 8192

type keyFilter struct {
	bits []uint64
	// capacity is how many keys the filter is sized for; n how many were
	// added. Past capacity a larger one is filled (fillFilter).
	capacity, n int
	// ready says every key of alert_keys is in the filter.
	ready bool
	// The fill from alert_keys has read the keys up to after (none yet
	// while started is false).
	started bool
	after   int64
}

func newKeyFilter(capacity int) *keyFilter {
	words := (capacity*filterBitsPerKey + 63) / 64
	return &keyFilter{bits: make([]uint64, words), capacity: capacity}
}

// probes spreads the already hashed key k over the filter: two halves of
// a mixed k, combined (Kirsch and Mitzenmacher).
func (f *keyFilter) probes(k int64, fn func(word int, bit uint64) bool) bool {
	x := uint64(k)
	// splitmix64's finalizer: the FNV-1a bits are mixed again.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	h1, h2 := x&math.MaxUint32, x>>32|1
	m := uint64(len(f.bits)) * 64
	for i := uint64(0); i < filterProbes; i++ {
		b := (h1 + i*h2) % m
		if !fn(int(b/64), 1<<(b%64)) {
			return false
		}
	}
	return true
}

func (f *keyFilter) add(k int64) {
	f.probes(k, func(w int, bit uint64) bool {
		f.bits[w] |= bit
		return true
	})
	f.n++
}

// mayHold is false when k is certainly not in alert_keys; true when it may
// be, and always while the filter is not ready.
func (f *keyFilter) mayHold(k int64) bool {
	if f == nil || !f.ready {
		return true
	}
	return f.probes(k, func(w int, bit uint64) bool { return f.bits[w]&bit != 0 })
}

// mayBeMerged is false when key k is certainly not in alert_keys.
func (r *recentKeys) mayBeMerged(k int64) bool { return r.filter.mayHold(k) }

// merged adds keys written to alert_keys to the filters.
func (r *recentKeys) merged(keys []recentKey) {
	for _, f := range []*keyFilter{r.filter, r.filling} {
		if f == nil {
			continue
		}
		for _, e := range keys {
			f.add(e.k)
		}
	}
}

// fillFilter is the writer's step between batches: it starts a filter on
// first use, starts a larger one when the one in use is past its
// capacity (which keeps serving meanwhile), and reads the next chunk of
// alert_keys into the one being filled.
func (s *Store) fillFilter() {
	r := s.recent
	if r == nil || !r.loaded {
		return // no alert written yet: the filter waits for the first
	}
	ctx := context.Background()
	if r.filling == nil && (r.filter == nil || r.filter.n > r.filter.capacity) {
		// alert_keys holds at most one key per alert up to the low-water
		// mark; room for half as many again before it grows.
		var low int64
		if err := s.write.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'alert_keys'`).Scan(&low); err != nil {
			s.log.Error("alert keys: filter not started", "err", err)
			return
		}
		capacity := int(low) + int(low)/2
		if r.filter != nil {
			capacity = max(capacity, 2*r.filter.n)
		}
		r.filling = newKeyFilter(max(capacity, r.filterMin))
	}
	f := r.filling
	if f == nil {
		return
	}
	q := `SELECT k FROM alert_keys WHERE k > $1 ORDER BY k LIMIT ` + strconv.Itoa(r.fillChunk)
	after := f.after
	if !f.started {
		q, after = `SELECT k FROM alert_keys WHERE k >= $1 ORDER BY k LIMIT `+strconv.Itoa(r.fillChunk), math.MinInt64
	}
	rows, err := s.write.QueryContext(ctx, q, after)
	if err != nil {
		s.log.Error("alert keys: filter fill failed", "err", err)
		return
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			s.log.Error("alert keys: filter fill failed", "err", err)
			return
		}
		f.add(k)
		f.after, f.started = k, true
		got++
	}
	if err := rows.Err(); err != nil {
		s.log.Error("alert keys: filter fill failed", "err", err)
		return
	}
	if got < r.fillChunk {
		f.ready = true
		r.filter, r.filling = f, nil
	}
}
