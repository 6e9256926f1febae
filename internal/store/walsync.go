package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/quenchhq/quench/internal/problem"
)

// Durable commits without the writer waiting for the disk.
//
// With synchronous=FULL, SQLite syncs the WAL inside every COMMIT, and the
// single writer goroutine sat idle for the disk while the next requests
// queued: the sync was half the writer's time. When FULL is asked for, the
// writer's connection runs with synchronous=NORMAL instead (a COMMIT
// writes its frames to the WAL without syncing them) and a second
// goroutine syncs the WAL file: a batch's jobs are answered only once a
// sync that began after their COMMIT has ended. One sync covers every
// batch committed before it began, and the writer works on the next batch
// meanwhile. An acknowledged write is on disk, as with FULL; what changes
// is that readers may see a write some milliseconds before its writer is
// told it is durable. NORMAL keeps the WAL consistent by itself: SQLite
// syncs the WAL before a checkpoint copies it, the database after, and the
// WAL's header when it starts reusing the file.

// synced is a committed batch waiting for the WAL sync: the answer
// channels of its jobs that succeeded.
type synced struct {
	done []chan error
}

// walSync is the WAL file the syncer makes durable, opened at the first
// sync: SQLite creates it with the first write.
type walSync struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// newWALSync turns the syncing of the writer pool w's one connection down
// to NORMAL, to be done by a walSync of the database at path. On trouble
// the connection keeps synchronous=FULL and nil is returned. Should the
// pool ever open a new connection, that one has FULL again: slower, as
// safe.
func newWALSync(ctx context.Context, path string, w *sql.DB) *walSync {
	if _, err := w.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		return nil
	}
	return &walSync{path: path + "-wal"}
}

// sync makes every frame written to the WAL so far durable.
func (w *walSync) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // nothing was ever written
		}
		if err != nil {
			return err
		}
		w.f = f
	}
	return syncData(w.f)
}

func (w *walSync) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		w.f.Close()
	}
}

// syncer answers committed batches once the WAL holding them is on disk.
func (s *Store) syncer() {
	defer close(s.syncDone)
	for first := range s.syncQ {
		batches := []synced{first}
	more:
		for {
			select {
			case b, ok := <-s.syncQ:
				if !ok {
					break more
				}
				batches = append(batches, b)
			default:
				break more
			}
		}
		err := s.syncErr(s.wal.sync())
		for _, b := range batches {
			for _, done := range b.done {
				done <- err
			}
		}
	}
}

// syncErr classifies a failed sync: the write is committed but not known
// to be on disk, so its sender must try again.
func (s *Store) syncErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC):
		s.noteFull()
		return problem.Wrap(problem.Unavailable, "storage_full", err, "storage is full")
	}
	return problem.Wrap(problem.Unavailable, "unavailable", err, "storage is unavailable")
}
