package store

import (
	"os"
	"slices"

	"github.com/quenchhq/quench/internal/problem"
)

// The WAL syncer: with synchronous=FULL SQLite would fsync the WAL inside
// every commit, and the single writer would wait for the disk before it
// could start the next batch: at 1,000 alerts a second, one at a time,
// that wait was half of the writer's time per alert, and the queue behind
// it the latency's tail. So the writer's connection commits at NORMAL
// (frames written, no fsync) and hands the batch to this goroutine, which
// fsyncs the WAL once for every batch that came in since its last fsync
// and only then answers their writes and hands their outbox messages to
// the worker. The writer meanwhile runs the next batch.
//
// What a write's caller sees is unchanged: an answer, and so a 2xx, only
// once its commit is on disk. What changes is that readers may see a
// batch for the moment between its commit and the fsync: after a power
// failure (not a crash of the process: the operating system keeps what was
// written) a change seen in that moment can be missing, as it would be had
// its request failed; its sender was not answered and sends it again.
//
// The checkpointer's connection stays at FULL: it fsyncs the WAL before
// it copies frames into the database, so no frame reaches the database
// file ahead of the WAL's own fsync.

// syncItem is a committed or failed batch waiting for its answers.
type syncItem struct {
	jobs    []*job
	results []error
	fresh   []Fresh
	// durable: the batch committed and holds a job whose answer must
	// wait for the WAL's fsync (not WriteUnsynced).
	durable bool
}

// answer queues a batch's answers for the syncer, in commit order.
// committed is false when the batch rolled back: its messages are dropped.
func (s *Store) answer(batch []*job, results []error, fresh []Fresh, committed bool) {
	it := &syncItem{jobs: slices.Clone(batch), results: results}
	if committed {
		it.fresh = fresh
		for _, j := range batch {
			it.durable = it.durable || (s.syncFull && !j.unsynced)
		}
	}
	s.synced <- it
}

// walSyncer answers the writer's batches in order, each durable one after
// an fsync of the WAL that covers it.
func (s *Store) walSyncer() {
	defer close(s.syncDone)
	var wal *os.File
	defer func() {
		if wal != nil {
			wal.Close()
		}
	}()
	var pending []*syncItem
	for it := range s.synced {
		pending = append(pending[:0], it)
	more:
		for {
			select {
			case it, ok := <-s.synced:
				if !ok {
					break more
				}
				pending = append(pending, it)
			default:
				break more
			}
		}
		durable := false
		for _, it := range pending {
			durable = durable || it.durable
		}
		if durable && s.failed() == nil {
			err := error(nil)
			if wal == nil {
				// The WAL exists from the first commit on, and SQLite
				// keeps the same file while the writer's connection is
				// open (a checkpoint truncates it, never removes it).
				wal, err = os.OpenFile(s.path+"-wal", os.O_RDWR, 0)
			}
			if err == nil {
				err = s.walSync(wal)
			}
			if err != nil {
				s.log.Error("the database's write-ahead log could not be written to disk: no write succeeds until Quench restarts", "err", err)
				var failure error = problem.Wrap(problem.Unavailable, "unavailable", err, "the database could not be written to disk; restart Quench")
				s.storageErr.Store(&failure)
			}
		}
		failure := s.failed()
		for _, it := range pending {
			for i, j := range it.jobs {
				err := it.results[i]
				if err == nil && failure != nil {
					// Committed, but nothing says it is on disk.
					err = failure
				}
				j.done <- s.classify(err)
			}
			if failure == nil {
				s.leases.pushFresh(it.fresh)
			}
		}
	}
}

// failed is the error every write gets once an fsync of the WAL failed:
// the operating system may have dropped the pages it could not write, so
// no later fsync proves anything (PostgreSQL stops for the same reason).
func (s *Store) failed() error {
	if p := s.storageErr.Load(); p != nil {
		return *p
	}
	return nil
}
