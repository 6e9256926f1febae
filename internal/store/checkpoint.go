package store

import (
	"context"
	"database/sql"
	"time"
)

// Checkpointing: SQLite would otherwise copy the WAL back into the database
// inside whichever commit crosses wal_autocheckpoint, on the writer's path.
// A separate connection checkpoints in the background instead: PASSIVE every
// second (it never blocks the writer). Busy readers keep a copied-back WAL
// from starting over by itself, so past maxWAL a RESTART makes the next
// commit start it over; the file keeps its size and is reused. Past four
// times maxWAL (RESTART kept failing) a TRUNCATE, which may block the
// writer, empties it: the WAL stays bounded even under a steady storm.
//
// RESTART and TRUNCATE hold the write lock while they wait for readers on
// old snapshots, SQLite's busy handler waits in sleeps of up to 100 ms, and
// truncating a WAL of 80 MB takes tens of ms more: at 1,000 alerts a
// second (20,000 WAL frames a second, past maxWAL every step) a TRUNCATE
// each step stalled the writer 30-900 ms each second. So the RESTART tries
// without waiting (busy_timeout 0), a few times a few ms apart, and
// otherwise at the next step.
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
	frames, _ := s.checkpoint(db, "PASSIVE")
	switch size := frames * int64(s.pageSize); {
	case size/4 > limit:
		s.checkpoint(db, "TRUNCATE")
	case size > limit:
		s.restartWAL(db)
	}
	return frames
}

// restartWAL tries RESTART without waiting for the writer or readers.
func (s *Store) restartWAL(db *sql.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		s.log.Warn("wal checkpoint failed", "mode", "RESTART", "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		s.log.Warn("wal checkpoint failed", "mode", "RESTART", "err", err)
		return
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = 5000")
	for range restartTries {
		var busy, frames, done int64
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done); err != nil {
			s.log.Warn("wal checkpoint failed", "mode", "RESTART", "err", err)
			return
		}
		if busy == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// restartTries bounds the attempts of one step's RESTART.
const restartTries = 50

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
