package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/notify"
)

// On SQLite one process owns the database (the outbox worker frees every
// lease when it starts, as a crash's), so a lease on an outbox message
// need not be written: the store keeps it in memory. Writing it cost a
// write transaction per lease on the single writer, shared with intake,
// and a commit in the path of every message. PostgreSQL, with several
// replicas, leases in the database (Tx.Claim).
//
// A memory lease is taken before the message is read, and given back
// only after the outcome that ends it has committed, so the read that
// follows a claim always sees whether the message was finished meanwhile.
//
// The writer also hands the worker the messages each batch queued, once
// the batch has committed (TakeFresh): the worker claims those by ID, and
// reads the outbox for due messages only when something may be left
// there (a message behind another of its lane, a channel without room, a
// retry coming due), not after every commit.

// memLeases are the live leases of a SQLite store, by message, and the
// messages queued since the worker last took them.
type memLeases struct {
	mu sync.Mutex
	m  map[int64]memLease

	fmu      sync.Mutex
	fresh    []Fresh
	overflow bool
	wake     chan struct{}
}

// Fresh is a message a committed transaction queued, due at once.
type Fresh struct {
	ID, ChannelID int64
}

// maxFresh bounds the messages waiting to be taken; beyond it they are
// left to the outbox's read.
const maxFresh = 8192

type memLease struct {
	until time.Time
	by    string
}

func newMemLeases() *memLeases {
	return &memLeases{m: map[int64]memLease{}, wake: make(chan struct{}, 1)}
}

func (l *memLeases) pushFresh(fs []Fresh) {
	if len(fs) == 0 {
		return
	}
	l.fmu.Lock()
	n := min(len(fs), maxFresh-len(l.fresh))
	l.fresh = append(l.fresh, fs[:n]...)
	l.overflow = l.overflow || n < len(fs)
	l.fmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// TakeFresh returns the messages queued by transactions committed since
// the last call, oldest first; overflow reports that more were queued
// than it kept. Nil on PostgreSQL.
func (s *Store) TakeFresh() (fs []Fresh, overflow bool) {
	l := s.leases
	if l == nil {
		return nil, false
	}
	l.fmu.Lock()
	defer l.fmu.Unlock()
	fs, overflow = l.fresh, l.overflow
	l.fresh, l.overflow = nil, false
	return fs, overflow
}

// ReturnFresh puts back messages TakeFresh handed over that the worker
// had no room for: the next TakeFresh hands them over first.
func (s *Store) ReturnFresh(fs []Fresh) {
	l := s.leases
	if l == nil || len(fs) == 0 {
		return
	}
	l.fmu.Lock()
	defer l.fmu.Unlock()
	n := min(len(fs), maxFresh-len(l.fresh))
	l.fresh = append(fs[:n:n], l.fresh...)
	l.overflow = l.overflow || n < len(fs)
}

// FreshWake delivers a signal when a commit queued messages; nil (never)
// on PostgreSQL.
func (s *Store) FreshWake() <-chan struct{} {
	if s.leases == nil {
		return nil
	}
	return s.leases.wake
}

// LeasesInMemory reports whether the store keeps outbox leases in memory
// (SQLite) rather than in the database (PostgreSQL).
func (s *Store) LeasesInMemory() bool { return s.leases != nil }

// HeldLeases lists the messages under a live memory lease at now; the
// lease's candidates skip them (LeaseRequest.Exclude). Leases that ran
// out are forgotten.
func (s *Store) HeldLeases(now time.Time) map[int64]bool {
	l := s.leases
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int64]bool, len(l.m))
	for id, ls := range l.m {
		if !ls.until.After(now) {
			delete(l.m, id)
			continue
		}
		out[id] = true
	}
	return out
}

// ClaimInMemory leases the messages ids to worker `by` until `until` in
// memory, as Tx.Claim does in the database: each only if no live lease
// holds it and, read after the lease is taken, it is still unfinished,
// due and the oldest unfinished message of its lane. It returns the
// messages it claimed, and those of ids that are unfinished but were not
// claimed for want of being due or first of their lane (not those under a
// live lease, nor finished ones).
func (s *Store) ClaimInMemory(ctx context.Context, ids []int64, now, until time.Time, by string) (out []*notify.Delivery, waiting []int64, err error) {
	l := s.leases
	taken := make([]int64, 0, len(ids))
	l.mu.Lock()
	for _, id := range ids {
		if ls, ok := l.m[id]; ok && ls.until.After(now) {
			continue // another worker of this process holds it
		}
		l.m[id] = memLease{until: until, by: by}
		taken = append(taken, id)
	}
	l.mu.Unlock()
	q := cachedDB{db: s.read, cache: s.readStmts}
	var lost []int64
	defer func() { s.ReleaseInMemory(by, lost...) }()
	// One read per chunk, not per message: at 1,000 messages a second a
	// read of its own for each was about 8% of the server's CPU.
	for start := 0; start < len(taken); start += claimChunk {
		chunk := taken[start:min(start+claimChunk, len(taken))]
		got, unclaimed, err := s.claimRead(ctx, q, chunk, now)
		if err != nil {
			lost = taken
			return nil, nil, s.classify(err)
		}
		for _, id := range chunk {
			if d := got[id]; d != nil {
				out = append(out, d)
				continue
			}
			// Finished, not due, or behind another of its lane.
			lost = append(lost, id)
			if unclaimed[id] {
				waiting = append(waiting, id)
			}
		}
	}
	return out, waiting, nil
}

// claimChunk bounds the ids one claimRead reads (and so the statements
// of different lengths it prepares).
const claimChunk = 64

// claimRead reads the messages of ids that are unfinished, due and the
// oldest unfinished of their lane, by id; and of the others, those
// unfinished.
func (s *Store) claimRead(ctx context.Context, q cachedDB, ids []int64, now time.Time) (map[int64]*notify.Delivery, map[int64]bool, error) {
	// Anonymous parameters, numbered in the order they appear.
	p := params{dialect: SQLite}
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = p.add(id)
	}
	in := strings.Join(ph, ", ")
	list, err := collect(scanDelivery)(q.QueryContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE o.id IN (`+in+`)
		AND o.state IN ('pending', 'failing') AND o.next_attempt_at <= `+p.add(micros(now))+`
		AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.id < o.id AND e.state IN ('pending', 'failing'))`, p.args...))
	if err != nil {
		return nil, nil, err
	}
	got := make(map[int64]*notify.Delivery, len(list))
	for _, d := range list {
		got[d.ID] = d
	}
	if len(got) == len(ids) {
		return got, nil, nil
	}
	var rest []int64
	for _, id := range ids {
		if got[id] == nil {
			rest = append(rest, id)
		}
	}
	p = params{dialect: SQLite}
	ph = ph[:0]
	for _, id := range rest {
		ph = append(ph, p.add(id))
	}
	rows, err := q.QueryContext(ctx, `SELECT id FROM outbox WHERE id IN (`+strings.Join(ph, ", ")+`) AND state IN ('pending', 'failing')`, p.args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	unclaimed := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		unclaimed[id] = true
	}
	return got, unclaimed, rows.Err()
}

// ReleaseInMemory gives back the memory leases of worker `by` on ids (of
// any worker when by is empty); call it only after the outcome that ends
// them has committed.
func (s *Store) ReleaseInMemory(by string, ids ...int64) {
	if s.leases == nil || len(ids) == 0 {
		return
	}
	l := s.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if ls, ok := l.m[id]; ok && (by == "" || ls.by == by) {
			delete(l.m, id)
		}
	}
}

// ReleaseAllInMemory forgets every memory lease: the outbox worker
// starts with it, as it frees the leases a crash left in the database.
func (s *Store) ReleaseAllInMemory() {
	if s.leases == nil {
		return
	}
	s.leases.mu.Lock()
	clear(s.leases.m)
	s.leases.mu.Unlock()
}
