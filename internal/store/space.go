package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/quenchhq/quench/internal/problem"
)

// A full disk must not look like a broken server. Writes refused for lack
// of space answer 503 with Retry-After (senders retry, nothing half-written
// is kept: the transaction rolled back), reads go on, readiness says
// "storage full", and all of it ends by itself once space is freed, with
// no restart.

// minFreeSpace is the free space below which the SQLite data directory
// counts as full: a commit needs room for its WAL frames, a checkpoint room
// for the database file to grow.
const minFreeSpace = 1 << 20

// fullFor is how long a write refused for lack of space keeps readiness
// false. It covers what free space alone cannot tell: a write larger than
// what is left on SQLite, and PostgreSQL, whose volume Quench cannot see.
// Readiness then recovers by itself, so a load balancer that stopped
// sending work cannot keep the server out forever.
const fullFor = 10 * time.Second

// space tracks storage-full refusals.
type space struct {
	lastFull atomic.Int64 // unix nanoseconds; 0: never
	// freeAtFull is the free space measured at the last refusal (SQLite):
	// once there is clearly more, space was freed and the wait is over.
	freeAtFull atomic.Uint64
}

func (s *Store) noteFull() {
	if s.dialect == SQLite {
		if free, ok := freeSpace(filepath.Dir(s.path)); ok {
			s.space.freeAtFull.Store(free)
		}
	}
	s.space.lastFull.Store(time.Now().UnixNano())
}

// Ready reports whether the store can take work, for readiness: space
// (CheckSpace), then the database reached (Ping) and its schema current.
// Space comes first: a full disk also keeps PostgreSQL from starting a
// session ("could not write init file"), and the failed ping would hide
// the cause the operator has to act on.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.CheckSpace(); err != nil {
		return err
	}
	if err := s.Ping(ctx); err != nil {
		return err
	}
	return s.CheckSchema(ctx)
}

// CheckSpace reports a storage_full problem while the SQLite data
// directory's free space is below minFreeSpace, or while a write refused
// for lack of space is recent and (on SQLite) no space was freed since;
// for readiness.
func (s *Store) CheckSpace() error {
	freed := false
	if s.dialect == SQLite {
		dir := filepath.Dir(s.path)
		free, ok := freeSpace(dir)
		if ok && free < minFreeSpace {
			return problem.Wrap(problem.Unavailable, "storage_full", fmt.Errorf("%d bytes free in %s", free, dir), "storage is full")
		}
		freed = ok && free >= s.space.freeAtFull.Load()+minFreeSpace
	}
	if at := s.space.lastFull.Load(); at != 0 && !freed && time.Since(time.Unix(0, at)) < fullFor {
		return problem.New(problem.Unavailable, "storage_full", "storage is full: a write was refused for lack of space %s ago",
			time.Since(time.Unix(0, at)).Round(time.Second))
	}
	return nil
}
