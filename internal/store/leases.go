package store

import (
	"context"
	"encoding/json"
	"fmt"
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
	// whole is a channel's message as it was queued: the worker claims
	// it without reading it back (ClaimFresh). Nil for other messages.
	whole *handOver
}

// handOver is a message handed to the worker whole. Right after its
// commit the writer holds it under a memory lease of its own (freshOwner),
// so no look through the outbox takes it meanwhile, and nothing else
// finishes a message due now that nobody leased: the claim needs no read
// to know that it is still unfinished and due. Whether it is the first
// of its lane was read in its transaction, after its insert: a message
// queued later has a larger id, and one that was older stays unfinished
// until a worker finishes it under its lease.
type handOver struct {
	d     notify.Delivery // without its Message
	msg   []byte          // the Message as stored
	first bool
}

// freshOwner holds the memory leases of messages handed over and not yet
// claimed; freshHold is how long at most (on the machine's clock), after
// which a look through the outbox may take them (and their claim by
// hand-over fails).
const (
	freshOwner = "\x00handed-over"
	freshHold  = 10 * time.Minute
)

// maxFresh bounds the messages waiting to be taken; beyond it they are
// left to the outbox's read.
const maxFresh = 8192

type memLease struct {
	until time.Time
	by    string
}

// live reports whether the lease holds at now, the service's clock; a
// hand-over's lease runs on the machine's clock (the writer takes it).
func (ls memLease) live(now time.Time) bool {
	if ls.by == freshOwner {
		return time.Now().Before(ls.until)
	}
	return ls.until.After(now)
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
	kept := fs[:n]
	l.mu.Lock()
	until := time.Now().Add(freshHold)
	for i := range kept {
		if kept[i].whole == nil {
			continue
		}
		if _, held := l.m[kept[i].ID]; held {
			// A look through the outbox took it first: it is that
			// worker's, and the hand-over claims it the old way.
			kept[i].whole = nil
			continue
		}
		l.m[kept[i].ID] = memLease{until: until, by: freshOwner}
	}
	l.mu.Unlock()
	l.fresh = append(l.fresh, kept...)
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
	// Those dropped are the outbox's to find: their hand-over ends.
	l.mu.Lock()
	for _, f := range fs[n:] {
		if ls, ok := l.m[f.ID]; ok && f.whole != nil && ls.by == freshOwner {
			delete(l.m, f.ID)
		}
	}
	l.mu.Unlock()
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
		if !ls.live(now) {
			delete(l.m, id)
			continue
		}
		out[id] = true
	}
	return out
}

// ClaimFresh claims handed-over messages (TakeFresh) for worker `by`
// until `until`, as ClaimInMemory does, and returns them and those left
// for a look through the outbox (waiting: behind another of their lane,
// or no longer held for the hand-over). A message handed over whole is
// claimed from its hand-over lease without a read; if that lease ended (a
// look through the outbox may have taken it since), it is left to the
// outbox. The others are claimed by ClaimInMemory.
func (s *Store) ClaimFresh(ctx context.Context, fs []Fresh, now, until time.Time, by string) (out []*notify.Delivery, waiting []int64, err error) {
	l := s.leases
	var ids, held []int64
	var whole []*handOver
	l.mu.Lock()
	for _, f := range fs {
		if f.whole == nil {
			ids = append(ids, f.ID)
			continue
		}
		ls, ok := l.m[f.ID]
		if !ok || ls.by != freshOwner || !ls.live(now) {
			// Its hand-over ended (ran out, or the worker freed every
			// lease when it started): the outbox is to look for it.
			waiting = append(waiting, f.ID)
			continue
		}
		if !f.whole.first {
			delete(l.m, f.ID)
			waiting = append(waiting, f.ID)
			continue
		}
		l.m[f.ID] = memLease{until: until, by: by}
		whole, held = append(whole, f.whole), append(held, f.ID)
	}
	l.mu.Unlock()
	for _, h := range whole {
		d := h.d
		if err := json.Unmarshal(h.msg, &d.Message); err != nil {
			s.ReleaseInMemory(by, held...)
			return nil, nil, fmt.Errorf("outbox %d message: %w", d.ID, err)
		}
		// As read back: times to the microsecond.
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMicros(micros(d.NextAttemptAt)), fromMicros(micros(d.CreatedAt)), fromMicros(micros(d.UpdatedAt))
		out = append(out, &d)
	}
	if len(ids) > 0 {
		more, wait, err := s.ClaimInMemory(ctx, ids, now, until, by)
		if err != nil {
			s.ReleaseInMemory(by, held...)
			return nil, nil, err
		}
		out, waiting = append(out, more...), append(waiting, wait...)
	}
	return out, waiting, nil
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
		if ls, ok := l.m[id]; ok && ls.live(now) {
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
