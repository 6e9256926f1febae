package store

import (
	"context"
	"database/sql"
	"time"
)

// Checkpointing: SQLite would otherwise copy the WAL back into the database
// inside whichever commit crosses wal_autocheckpoint, on the writer's path.
// A separate connection checkpoints in the background instead: PASSIVE every
// second (it never blocks the writer), and TRUNCATE when the WAL has grown
// past maxWAL, so the WAL stays bounded even under a steady storm.
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
	frames := s.checkpoint(db, "PASSIVE")
	if frames*int64(s.pageSize) > limit {
		s.checkpoint(db, "TRUNCATE")
	}
	return frames
}

// checkpoint runs one checkpoint and returns the WAL's size in frames.
func (s *Store) checkpoint(db *sql.DB, mode string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, log, done int64
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done); err != nil {
		s.log.Warn("wal checkpoint failed", "mode", mode, "err", err)
		return 0
	}
	return log
}
