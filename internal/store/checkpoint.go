package store

import (
	"context"
	"database/sql"
	"time"
)

// Checkpointing: SQLite would otherwise copy the WAL back into the database
// inside whichever commit crosses wal_autocheckpoint, on the writer's path.
// A separate connection checkpoints in the background instead: PASSIVE every
// second (it never blocks the writer). A WAL copied back whole starts over
// at the next commit, which cuts its file to maxWAL (journal_size_limit).
// Only a WAL past maxWAL that PASSIVE could not copy back whole (readers
// on old snapshots) is TRUNCATEd, so the WAL stays bounded even under a
// steady storm: TRUNCATE holds the write lock until every reader has moved
// on, and at 1,000 alerts a second (20,000 frames a second) it stalled the
// writer for 30-900 ms every second.
const (
	checkpointEvery = time.Second
	maxWAL          = 64 << 20
)

func (s *Store) checkpointer(db *sql.DB) {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			<-s.done // the writer has committed its last batch
			s.checkpoint(db, "TRUNCATE")
			db.Close()
			return
		case <-t.C:
			s.checkpointStep(db, maxWAL)
		}
	}
}

// checkpointStep is one tick of the checkpointer: PASSIVE, then TRUNCATE
// when the WAL had grown past limit bytes. It returns the WAL's size in
// frames before the step.
func (s *Store) checkpointStep(db *sql.DB, limit int64) int64 {
	frames, done := s.checkpoint(db, "PASSIVE")
	if frames*int64(s.pageSize) > limit && done < frames {
		s.checkpoint(db, "TRUNCATE")
	}
	return frames
}

// checkpoint runs one checkpoint and returns the WAL's size in frames and
// how many of them are in the database now.
func (s *Store) checkpoint(db *sql.DB, mode string) (frames, done int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy int64
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done); err != nil {
		s.log.Warn("wal checkpoint failed", "mode", mode, "err", err)
		return 0, 0
	}
	return frames, done
}
