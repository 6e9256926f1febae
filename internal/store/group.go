package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/quenchhq/quench/internal/alert"
)

// Group commit on PostgreSQL. WriteGrouped queues the work, and a
// committer goroutine (pgCommitters) runs what queued up while it was
// busy in one transaction (savepoints only once a job failed): one BEGIN,
// one COMMIT and one WAL flush serve many requests, and one failing job
// rolls back alone. Intake locks its integration's row only when a delivery
// changes stored alerts or may open an incident (so that concurrent
// deliveries of one group cannot open two), and writes the counts it
// keeps once per group transaction, at its end (group_pg.go): so one
// replica's committer works while another's waits for its flush. The
// new alerts of a transaction's deliveries are written by one INSERT
// (parking, below).

// pgCommitters is how many group transactions run at once per replica.
// One: what queues up while its transaction runs and waits for its WAL
// flush makes the next transaction, so a transaction serves more
// deliveries. Each transaction has a fixed cost in PostgreSQL's CPU
// (BEGIN, the integration and its rules, the inbox count, COMMIT and its
// flush, the change notification to every replica); with two
// committers per replica, three replicas ran 1.6 deliveries per
// transaction against 3.7 for one replica, and PostgreSQL's CPU per alert
// rose by a quarter. With one, PostgreSQL still overlaps one replica's
// flush with another's work, and on one replica the wait for a flush is
// spent collecting the next batch. Measured in docs/benchmarks.md
// (2026-12-01, storm figures on PostgreSQL).
const pgCommitters = 1

type pgGroup struct {
	once sync.Once
	jobs chan *job
}

// WriteGrouped runs fn like Write and returns once it committed (nil) or
// rolled back (its error). On PostgreSQL fn may share its transaction
// with other WriteGrouped calls, each inside a savepoint; its statements
// then run to the end even if ctx ends meanwhile (the transaction is not
// fn's alone to break). On SQLite it is Write, which groups already.
func (s *Store) WriteGrouped(ctx context.Context, fn func(*Tx) error) error {
	if s.dialect != Postgres {
		return s.Write(ctx, fn)
	}
	s.closing.RLock()
	if s.closed {
		s.closing.RUnlock()
		return errShuttingDown
	}
	defer s.closing.RUnlock()
	s.group.once.Do(func() {
		s.group.jobs = make(chan *job)
		for range pgCommitters {
			go s.pgCommitter()
		}
	})
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.group.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

// pgCommitter runs queued jobs in group transactions for as long as the
// process lives: it holds no connection while idle.
func (s *Store) pgCommitter() {
	batch := make([]*job, 0, maxBatch)
	for j := range s.group.jobs {
		batch = append(batch[:0], j)
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-s.group.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.pgCommitBatch(batch)
	}
}

func (s *Store) pgCommitBatch(batch []*job) {
	if len(batch) == 1 {
		j := batch[0]
		j.done <- s.pgAlone(j)
		return
	}
	results := make([]error, len(batch))
	// First without savepoints: two round trips fewer per job.
	failed, err := s.pgOptimistic(batch, results)
	switch {
	case err == nil && failed < 0: // committed
	case err != nil && !retryable(err) && !errors.As(err, new(*parkedInsertError)):
		// The transaction failed; if the commit did, whether it took is
		// unknown, so nothing runs again here.
		for i := range results {
			results[i] = err
		}
	default:
		// A job failed and keeps its error (it never committed), or a
		// deadlock or the statement writing every job's new alerts
		// ended the transaction (failed is -1): the others run again,
		// each in a savepoint, writing their alerts themselves.
		var rest []*job
		var at []int
		for i, j := range batch {
			if i != failed {
				rest, at = append(rest, j), append(at, i)
			}
		}
		restResults := make([]error, len(rest))
		err = s.pgGroupAttempt(rest, restResults)
		for attempt := 2; err != nil && retryable(err) && attempt <= 3; attempt++ {
			err = s.pgGroupAttempt(rest, restResults)
		}
		for k, i := range at {
			if results[i] = restResults[k]; err != nil {
				results[i] = err
			}
		}
	}
	for i, j := range batch {
		if results[i] != nil && retryable(results[i]) {
			// A deadlock or serialization failure of this job alone: it
			// runs again in a transaction of its own.
			go func() { j.done <- s.pgAlone(j) }()
			continue
		}
		j.done <- s.classify(results[i])
	}
}

// pgOptimistic runs every job of batch in one transaction without
// savepoints and commits. If a job fails, it rolls back and returns the
// job's index (its error in results); err is the transaction's own.
func (s *Store) pgOptimistic(batch []*job, results []error) (failed int, err error) {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return -1, err
	}
	t := s.pgGroupTx(tx)
	failed, err = t.pg.runParking(t, batch, results)
	if err != nil || failed >= 0 {
		tx.Rollback()
		return failed, err
	}
	if err := t.pg.flush(ctx, t); err != nil {
		tx.Rollback()
		return -1, err
	}
	if err := s.committed(t, tx.Commit()); err != nil {
		return -1, err
	}
	return -1, nil
}

// pgGroupAttempt runs every job of batch in one transaction, each in a
// savepoint, and commits. results holds each job's own error; the error
// returned is the transaction's (nil once committed).
func (s *Store) pgGroupAttempt(batch []*job, results []error) (err error) {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	t := s.pgGroupTx(tx)
	for i, j := range batch {
		results[i] = nil
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := t.q.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			return err
		}
		mark := t.pg.mark()
		if results[i] = runJob(j.fn, t); results[i] != nil {
			// Rolling back to the savepoint releases the locks taken
			// since, and drops what the job deferred.
			t.rules = nil
			clear(t.locked)
			t.pg.rollback(mark)
			if _, err := t.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT job"); err != nil {
				return err
			}
		}
		if _, err := t.q.ExecContext(ctx, "RELEASE SAVEPOINT job"); err != nil {
			return err
		}
	}
	if err := t.pg.flush(ctx, t); err != nil {
		return err
	}
	return s.committed(t, tx.Commit())
}

// pgGroupTx is the Tx of a group transaction.
func (s *Store) pgGroupTx(tx querier) *Tx {
	return &Tx{q: counting{detached{tx}, &s.statements}, dialect: Postgres, matchers: s.matchers,
		locked: map[string]*alert.Integration{}, pg: newPgGroupTx()}
}

// pgAlone runs one job in a group transaction of its own (its deferred
// work done before the commit), again after a deadlock or serialization
// failure, up to three times. Once begun, the job runs to its end even if
// its context ends, as it would in a shared transaction: its statements
// ignore the context (detached), and a transaction begun with it would be
// rolled back by database/sql under a statement whose rows were being
// read, which then failed as "sql: Rows are closed", a 500, where the
// client had only left.
func (s *Store) pgAlone(j *job) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	ctx := context.WithoutCancel(j.ctx)
	for attempt := 1; ; attempt++ {
		err := s.pgAttemptAs(ctx, j.fn, true)
		if err == nil || attempt == 3 || !retryable(err) {
			return s.classify(err)
		}
	}
}

// detached runs statements to the end whatever their context says: a
// job's client leaving must not break the transaction it shares.
type detached struct{ q querier }

func (d detached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.q.ExecContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.q.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (d detached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.q.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

// Parking: the jobs of an optimistic group transaction (no savepoints)
// each run on a goroutine of their own, one at a time. A job that stores
// new alerts (InsertNewAlerts) waits there, parked, and the next job runs;
// once every job has ended or parked, one statement writes the new alerts
// of all parked jobs (pgGroupTx.insertParked) and the parked jobs go on,
// one after the other, each with what its own INSERT would have told it.
//
// Why: PostgreSQL's cost of an inbox alert was mostly the INSERT, and a
// good part of it is per statement (the statement itself, its RETURNING,
// the statement trigger of schema 15 with its transition table), paid
// once per delivery of ten alerts; a group transaction holds several
// deliveries. Measured in docs/benchmarks.md ("PostgreSQL inbox rows").
//
// Jobs never run at once: only one goroutine uses the transaction at a
// time, so a job's statements run in its order, as before; what changes is
// that a later job's statements may run before an earlier one's alerts
// are written. Jobs of one transaction see each other's writes either
// way, and a parked job learns which of its alerts were stored already
// (an earlier or later job's) exactly as from its own INSERT.

// parkedInsertError is the failure of the statement that wrote several
// parked jobs' alerts: which job's rows made it fail is unknown, so they
// all run again, each in a savepoint.
type parkedInsertError struct{ err error }

func (e *parkedInsertError) Error() string {
	return "store: new alerts of a group transaction: " + e.err.Error()
}
func (e *parkedInsertError) Unwrap() error { return e.err }

// errJobAbandoned answers a parked job whose transaction will roll back
// (another job failed): its work is undone and it runs again.
var errJobAbandoned = errors.New("store: the group transaction failed in another job")

// parkEvent is what a job's goroutine tells the committer: it ended
// (done, with its error), or it parked with rows and waits on reply.
type parkEvent struct {
	done  bool
	err   error
	rows  []AlertRow
	reply chan parkReply
}

type parkReply struct {
	stored int
	err    error
}

type parkedJob struct {
	i     int
	rows  []AlertRow
	reply chan parkReply
}

// runParking runs batch's jobs in t as described above and sets their
// results. failed is the index of the first job that failed (-1: none);
// err is the failure of the statement writing the parked jobs' alerts.
// Either way the transaction is to be rolled back.
func (g *pgGroupTx) runParking(t *Tx, batch []*job, results []error) (failed int, err error) {
	events := make(chan parkEvent)
	g.park = func(rows []AlertRow) (int, error) {
		reply := make(chan parkReply)
		events <- parkEvent{rows: rows, reply: reply}
		r := <-reply
		return r.stored, r.err
	}
	defer func() { g.park = nil }()
	failed = -1
	var parked []parkedJob
	// step lets job i run (go starts or resumes it) until it ends or
	// parks again.
	step := func(i int, goOn func()) {
		goOn()
		ev := <-events
		if !ev.done {
			parked = append(parked, parkedJob{i, ev.rows, ev.reply})
			return
		}
		results[i] = ev.err
		if ev.err != nil && failed < 0 && err == nil {
			failed = i
		}
	}
	for i, j := range batch {
		if failed >= 0 {
			break // the others run again in savepoints
		}
		if results[i] = j.ctx.Err(); results[i] != nil {
			continue
		}
		step(i, func() { go func() { events <- parkEvent{done: true, err: runJob(j.fn, t)} }() })
	}
	for len(parked) > 0 {
		round := parked
		parked = nil
		var stored []int
		var ierr error
		switch {
		case failed >= 0 || err != nil:
			ierr = errJobAbandoned
		default:
			stored, ierr = t.insertParked(round)
			if ierr != nil {
				err = &parkedInsertError{ierr}
			}
		}
		for k, p := range round {
			r := parkReply{err: ierr}
			switch {
			case failed >= 0:
				r.err = errJobAbandoned
			case ierr == nil:
				r.stored = stored[k]
			}
			step(p.i, func() { p.reply <- r })
		}
	}
	return failed, err
}
