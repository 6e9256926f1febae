// Package store persists Quench's aggregates in SQLite (embedded default) or
// PostgreSQL (several replicas). Both run the same hand-written SQL; only the
// DDL in migrations/ differs per dialect.
//
// All writes go through Store.Write, one transaction per use case. On SQLite
// a single writer goroutine owns the only write connection and commits the
// jobs that queue up while it works in one transaction, each inside its own
// savepoint: one fsync then acknowledges many concurrent requests (group
// commit), and one failing job rolls back alone.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/problem"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = problem.ErrNotFound

// ErrConflict is returned when a guarded update found the row changed.
var ErrConflict = errors.New("store: row changed concurrently")

// Dialect names the database in use.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options say where the database is.
type Options struct {
	// URL is a postgres:// URL, or empty for SQLite in DataDir.
	URL string
	// DataDir holds quench.db when URL is empty.
	DataDir string
	// Synchronous is SQLite's synchronous pragma: FULL (default) so an
	// acknowledged write survives power loss, or NORMAL.
	Synchronous string
	Log         *slog.Logger
}

// Store is the database handle.
type Store struct {
	dialect Dialect
	write   *sql.DB // SQLite: exactly one connection
	read    *sql.DB // SQLite: read-only pool; Postgres: same as write
	path    string
	log     *slog.Logger
	// url is the PostgreSQL URL, for the connection that listens for
	// other replicas' changes (listen.go).
	url string

	// closing guards enqueueing against Close: Write checks closed and
	// hands its job over under the read lock, Close sets closed under the
	// write lock before it closes quit. Every job queued is then queued
	// before quit closes, and the writer's drain answers it.
	closing sync.RWMutex
	closed  bool

	jobs  chan *job
	quit  chan struct{}
	done  chan struct{}
	stmts *stmtCache // SQLite writer only
	// syncFull: the writer commits with synchronous=FULL; relaxed: its
	// connection is at NORMAL for a batch of WriteUnsynced jobs. Both
	// are the writer goroutine's.
	syncFull, relaxed bool
	// ckpt is the SQLite checkpointer's own connection; ckptDone closes
	// when the checkpointer has stopped.
	ckpt     *sql.DB
	ckptDone chan struct{}
	pageSize int

	matchers  *matcherCache
	readStmts *readStmts
	space     space
	// recent is the in-memory level of the alert keys (alertkeys.go),
	// SQLite only.
	recent *recentKeys
	// leases are the outbox leases, in memory on SQLite (leases.go).
	leases *memLeases
	// chans caches the channels, SQLite only (chancache.go).
	chans *chanCache
	// tables caches small tables for the writer, SQLite only
	// (tablecache.go).
	tables *tableCaches

	closeOnce sync.Once
	closeErr  error

	// group is PostgreSQL's group commit (group.go).
	group pgGroup
	// queuedWake: see QueuedWake.
	queuedWake chan struct{}

	// lockWait overrides migrationLockWait in tests.
	lockWait time.Duration

	// statements and reads count the work of write transactions (see
	// Work); reads only while trackReads is set.
	statements atomic.Int64
	reads      atomic.Int64
	written    atomic.Int64
	trackReads atomic.Bool
}

// Work is what write transactions asked of the database so far.
type Work struct {
	// Statements run in write transactions, savepoints included.
	Statements int64
	// Reads counts, once TrackReads was called, the pages the SQLite
	// writer read (from its cache or the file), or the rows PostgreSQL
	// write transactions read (sequential and index fetches). Unlike
	// statements, reads grow with the rows a statement goes through.
	Reads int64
	// Written counts, once TrackReads was called, the pages the SQLite
	// writer wrote to its WAL: each is 4 KB written at commit and again
	// by the checkpoint. Always 0 on PostgreSQL.
	Written int64
}

// Work reports the work of write transactions so far: tests use it to
// show that work per alert stays constant, where wall time would be
// noise.
func (s *Store) Work() Work {
	return Work{Statements: s.statements.Load(), Reads: s.reads.Load(), Written: s.written.Load()}
}

// TrackReads makes write transactions count what they read (see Work), at
// the cost of a statement or a few calls per commit.
func (s *Store) TrackReads() { s.trackReads.Store(true) }

// readPages adds the pages the SQLite writer connection read, and those
// it wrote, since the last call.
func (s *Store) readPages() {
	conn, err := s.write.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return nil
		}
		for _, op := range []sqlite.DBStatusOp{sqlite.DBStatusCacheHit, sqlite.DBStatusCacheMiss} {
			if n, _, err := st.Status(op, true); err == nil {
				s.reads.Add(int64(n))
			}
		}
		if n, _, err := st.Status(sqlite.DBStatusCacheWrite, true); err == nil {
			s.written.Add(int64(n))
		}
		return nil
	})
}

// counting counts the statements run through q.
type counting struct {
	q querier
	n *atomic.Int64
}

func (c counting) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.q.ExecContext(ctx, query, args...)
}

func (c counting) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.q.QueryContext(ctx, query, args...)
}

func (c counting) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.q.QueryRowContext(ctx, query, args...)
}

type job struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
	// unsynced: the job may commit without an fsync (WriteUnsynced).
	unsynced bool
}

// maxBatch bounds how many queued writes share one commit.
const maxBatch = 256

// Open connects to the database. It does not migrate; call Migrate.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.URL != "" {
		return openPostgres(ctx, opt)
	}
	return openSQLite(ctx, opt)
}

func openPostgres(ctx context.Context, opt Options) (*Store, error) {
	if !strings.HasPrefix(opt.URL, "postgres://") && !strings.HasPrefix(opt.URL, "postgresql://") {
		return nil, fmt.Errorf("database URL must start with postgres:// (got %s)", redactURL(opt.URL))
	}
	db, err := sql.Open("pgx", opt.URL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", redactURL(opt.URL), err)
	}
	return &Store{dialect: Postgres, write: db, read: db, log: opt.Log, url: opt.URL, matchers: newMatcherCache(),
		readStmts: &readStmts{stmts: map[string]*sql.Stmt{}}, queuedWake: make(chan struct{}, 1)}, nil
}

func openSQLite(ctx context.Context, opt Options) (*Store, error) {
	if opt.DataDir == "" {
		return nil, errors.New("no data directory for SQLite")
	}
	if err := os.MkdirAll(opt.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	registerAlertKey()
	sync := strings.ToUpper(opt.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("synchronous must be FULL or NORMAL, not %q", opt.Synchronous)
	}
	path := filepath.Join(opt.DataDir, dbFile)
	common := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	// wal_autocheckpoint(0): the checkpointer goroutine does it, off the
	// writer's path.
	w, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	ck, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+common+"&_pragma=synchronous("+sync+")")
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	ck.SetMaxOpenConns(1)
	var pageSize int
	if err := w.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		w.Close()
		r.Close()
		ck.Close()
		return nil, err
	}
	s := &Store{dialect: SQLite, write: w, read: r, path: path, log: opt.Log, ckpt: ck, ckptDone: make(chan struct{}), pageSize: pageSize,
		jobs: make(chan *job, maxBatch), quit: make(chan struct{}), done: make(chan struct{}), stmts: newStmtCache(), matchers: newMatcherCache(),
		readStmts: &readStmts{stmts: map[string]*sql.Stmt{}}, recent: newRecentKeys(), leases: newMemLeases(),
		chans: &chanCache{}, tables: &tableCaches{}, syncFull: sync == "FULL"}
	go s.writer()
	go s.checkpointer(ck)
	return s, nil
}

// Dialect reports which database is in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// Path is the SQLite file, empty on PostgreSQL.
func (s *Store) Path() string { return s.path }

// Close stops the writer and closes the pools; later calls do nothing.
// Writes already handed over finish first; later ones are refused.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Lock()
		s.closed = true
		s.closing.Unlock()
		if s.quit != nil {
			close(s.quit)
			<-s.done
			<-s.ckptDone
			s.stmts.close()
		}
		s.readStmts.close()
		s.closeErr = s.write.Close()
		if s.read != s.write {
			s.closeErr = errors.Join(s.closeErr, s.read.Close())
		}
	})
	return s.closeErr
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.classify(s.read.PingContext(ctx))
}

// Read runs fn in a read-only transaction: a consistent snapshot.
func (s *Store) Read(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.dialect == Postgres})
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	// No channel cache: a snapshot may be older than the cache's version.
	if err := fn(&Tx{q: tx, dialect: s.dialect, matchers: s.matchers, readOnly: true}); err != nil {
		return s.classify(err)
	}
	return s.classify(tx.Commit())
}

// ReadOne runs fn outside a transaction on the read pool, with prepared
// statements: for the single-statement lookups of every request.
func (s *Store) ReadOne(ctx context.Context, fn func(*Tx) error) error {
	return s.classify(fn(&Tx{q: cachedDB{db: s.read, cache: s.readStmts}, dialect: s.dialect, matchers: s.matchers, chans: s.chans, readOnly: true}))
}

// Write runs fn in a read-write transaction and returns after it committed
// (nil) or rolled back (the error). fn may run again on PostgreSQL after a
// serialization failure, so it must not have side effects outside tx.
//
// After Close, Write returns errShuttingDown without running fn.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(ctx, fn, false)
}

// WriteUnsynced is Write for records whose loss would only repeat work,
// such as the outcome of an outbox message (lost, the message goes out
// again with the same webhook-id, as one in flight at a crash does). On
// SQLite with synchronous=FULL, a batch made only of such jobs commits
// without waiting for its fsync: a killed process loses nothing (the
// pages are in the operating system's hands), a power failure may lose
// the commits since the next synced one, or the checkpointer's next tick
// (a second). Elsewhere it is Write.
func (s *Store) WriteUnsynced(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(ctx, fn, true)
}

// submit is Write, and WriteUnsynced when unsynced.
func (s *Store) submit(ctx context.Context, fn func(*Tx) error, unsynced bool) error {
	s.closing.RLock()
	if s.closed {
		s.closing.RUnlock()
		return errShuttingDown
	}
	if s.dialect == Postgres {
		// Held to the end, so Close waits for the transaction instead of
		// closing the pool under it.
		defer s.closing.RUnlock()
		return s.writePostgres(ctx, fn)
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1), unsynced: unsynced}
	select {
	case s.jobs <- j:
		s.closing.RUnlock()
	case <-ctx.Done():
		s.closing.RUnlock()
		return ctx.Err()
	}
	// Once queued the job may commit, so wait for the verdict: answering
	// before it would break "2xx only after commit" in the other direction.
	return <-j.done
}

// errShuttingDown refuses a write that arrives after Close: it did not run.
var errShuttingDown = problem.New(problem.Unavailable, "unavailable", "the server is shutting down")

func (s *Store) writePostgres(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.pgAttempt(ctx, fn)
		if err == nil || attempt == 3 || !retryable(err) {
			return s.classify(err)
		}
	}
}

func (s *Store) pgAttempt(ctx context.Context, fn func(*Tx) error) (err error) {
	return s.pgAttemptAs(ctx, fn, false)
}

// pgAttemptAs runs fn in a transaction of its own; grouped gives it the
// state of a group transaction (group_pg.go), whose deferred work it does
// before the commit.
func (s *Store) pgAttemptAs(ctx context.Context, fn func(*Tx) error, grouped bool) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// The backend's row counts, before and after: they include earlier
	// transactions whose statistics are not flushed yet, but nothing is
	// flushed within a transaction.
	rowsRead := func() int64 {
		var n int64
		tx.QueryRowContext(ctx, `SELECT CAST(COALESCE(sum(seq_tup_read + COALESCE(idx_tup_fetch, 0)), 0) AS BIGINT)
			FROM pg_stat_xact_user_tables`).Scan(&n)
		return n
	}
	track := s.trackReads.Load()
	var before int64
	if track {
		before = rowsRead()
	}
	t := &Tx{q: counting{tx, &s.statements}, dialect: Postgres, matchers: s.matchers}
	if grouped {
		t = s.pgGroupTx(tx)
	}
	if err := runJob(fn, t); err != nil {
		return err
	}
	if t.pg != nil {
		if err := t.pg.flush(ctx, t); err != nil {
			return err
		}
	}
	if track {
		s.reads.Add(rowsRead() - before)
	}
	return s.committed(t, tx.Commit())
}

// committed passes on the result of a PostgreSQL transaction's commit,
// and signals QueuedWake when it committed messages to the outbox.
func (s *Store) committed(t *Tx, err error) error {
	if err == nil && t.queued {
		select {
		case s.queuedWake <- struct{}{}:
		default:
		}
	}
	return err
}

// QueuedWake delivers a signal when a transaction that queued outbox
// messages has committed, on PostgreSQL (nil, never, on SQLite, whose
// writer hands such messages over: FreshWake). Only this replica's
// transactions signal; the outbox's poll finds the others'.
func (s *Store) QueuedWake() <-chan struct{} { return s.queuedWake }

func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*job, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			s.drain()
			return
		case j := <-s.jobs:
			batch = append(batch[:0], j)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		s.commit(batch)
		s.stmts.prepare(s.write)
		s.mergeKeys()
		s.fillFilter()
	}
}

// drain commits the jobs still queued when Close began. Close closed quit
// only after no Write could queue any more, so once the channel is empty
// it stays empty.
func (s *Store) drain() {
	for {
		select {
		case j := <-s.jobs:
			s.commit([]*job{j})
		default:
			return
		}
	}
}

func (s *Store) commit(batch []*job) {
	results := make([]error, len(batch))
	batchMark := s.recent.mark()
	var t *Tx
	finish := func(err error) {
		if t != nil && t.chansTouched {
			// Committed or rolled back: lists read meanwhile are stale.
			s.chans.bump()
		}
		if t != nil && t.touched != 0 {
			s.tables.bump(t.touched)
		}
		if err != nil {
			s.recent.undo(batchMark)
		} else {
			s.recent.keep()
		}
		if s.trackReads.Load() {
			s.readPages()
		}
		for i, j := range batch {
			if results[i] == nil {
				results[i] = err
			}
			j.done <- s.classify(results[i])
		}
	}
	if err := s.syncFor(batch); err != nil {
		finish(err)
		return
	}
	tx, err := s.write.BeginTx(context.Background(), nil)
	if err != nil {
		finish(err)
		return
	}
	var fresh []Fresh
	// locked: a batch's deliveries to one integration read it once.
	t = &Tx{q: counting{cachedTx{tx: tx, cache: s.stmts, bound: map[*sql.Stmt]*sql.Stmt{}}, &s.statements}, dialect: SQLite, matchers: s.matchers, recent: s.recent,
		fresh: &fresh, chans: s.chans, caches: s.tables, locked: map[string]*alert.Integration{}}
	defer func() { t.rules, t.snoozes = nil, nil }()
	if len(batch) == 1 {
		if err := runJob(batch[0].fn, t); err != nil {
			tx.Rollback()
			finish(err)
			return
		}
		err := tx.Commit()
		if err == nil {
			s.leases.pushFresh(fresh)
		}
		finish(err)
		return
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := t.q.ExecContext(context.Background(), "SAVEPOINT job"); err != nil {
			tx.Rollback()
			finish(err)
			return
		}
		jobMark, freshMark := s.recent.mark(), len(fresh)
		if results[i] = runJob(j.fn, t); results[i] != nil {
			s.recent.undo(jobMark)
			// The job's messages are gone (their ids may even be
			// taken again): none is handed over.
			clear(fresh[freshMark:])
			fresh = fresh[:freshMark]
			clear(t.locked)
			if _, err := t.q.ExecContext(context.Background(), "ROLLBACK TO job"); err != nil {
				tx.Rollback()
				finish(err)
				return
			}
		}
		if _, err := t.q.ExecContext(context.Background(), "RELEASE job"); err != nil {
			tx.Rollback()
			finish(err)
			return
		}
	}
	err = tx.Commit()
	if err == nil {
		s.leases.pushFresh(fresh)
	}
	finish(err)
}

// syncFor sets the writer's connection to commit batch with an fsync
// unless every job of it is unsynced (WriteUnsynced). A synced commit
// after unsynced ones fsyncs their WAL frames with its own.
func (s *Store) syncFor(batch []*job) error {
	if !s.syncFull {
		return nil
	}
	relax := true
	for _, j := range batch {
		relax = relax && j.unsynced
	}
	if relax == s.relaxed {
		return nil
	}
	mode := "FULL"
	if relax {
		mode = "NORMAL"
	}
	if _, err := s.write.ExecContext(context.Background(), "PRAGMA synchronous="+mode); err != nil {
		return err
	}
	s.relaxed = relax
	return nil
}

// runJob turns a panic in fn into an error so one bad request cannot take
// down the writer and every request queued behind it.
func runJob(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in transaction: %v", r)
		}
	}()
	return fn(tx)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// classify turns driver errors that mean "try again later" into a 503
// problem, so senders retry instead of giving up, and leaves others alone.
func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := problem.As(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrTxDone) {
		// database/sql rolled the transaction back under the statement:
		// its context ended (the client left) or the connection broke.
		return problem.Wrap(problem.Unavailable, "unavailable", err, "the transaction was interrupted, try again")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return problem.Wrap(problem.Unavailable, "unavailable", err, "the database is busy, try again")
		case sqlite3.SQLITE_FULL:
			s.noteFull()
			return problem.Wrap(problem.Unavailable, "storage_full", err, "storage is full")
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return problem.Wrap(problem.Unavailable, "unavailable", err, "storage is unavailable")
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			s.noteFull()
			return problem.Wrap(problem.Unavailable, "storage_full", err, "storage is full")
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300",
			pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
			return problem.Wrap(problem.Unavailable, "unavailable", err, "the database is unavailable, try again")
		}
		return err
	}
	if s.dialect == Postgres && isConnError(err) {
		return problem.Wrap(problem.Unavailable, "unavailable", err, "the database is unavailable, try again")
	}
	return err
}

func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	// driver.ErrBadConn: database/sql found a pooled connection broken
	// (PostgreSQL restarted since it was last used) under a statement of
	// a transaction, where it cannot retry on another.
	if errors.As(err, &ce) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	// The connection broke under a statement: PostgreSQL restarted or the
	// network failed ("connection reset by peer", a read timeout).
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "failed to connect") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "unexpected EOF")
}

// IsUnique reports whether err is a unique-constraint violation.
func IsUnique(err error) bool {
	if errors.Is(err, errDuplicateAlert) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// uriPath escapes a file path for an SQLite URI filename, where '?' starts
// the parameters and '#' a fragment: unescaped, a data folder named
// "ops#2" would open the database "ops" instead.
func uriPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}

// querier is what both *sql.Tx and *sql.DB offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx gives access to every aggregate inside one transaction.
type Tx struct {
	q        querier
	dialect  Dialect
	matchers *matcherCache
	// rules memoises Rules for the jobs of one SQLite batch: every
	// delivery routes by them, and they change rarely (InsertRule and
	// DeleteRule clear it).
	rules []*alert.Rule
	// snoozes memoises Snoozes (read at snoozesAt) the same way.
	snoozes   *[]*alert.Snooze
	snoozesAt time.Time
	// recent is the in-memory level of the alert keys, set in the SQLite
	// writer's transactions only.
	recent *recentKeys
	// fresh collects the messages the SQLite writer's batch queued, for
	// the outbox worker once the batch has committed (leases.go).
	fresh *[]Fresh
	// opened are the incidents this SQLite write inserted, lanes the
	// outbox lanes it queued messages in: a message about an incident it
	// opened, first in its lane here, is first in its lane (Fresh).
	opened map[int64]bool
	lanes  map[string]bool
	// chans is the SQLite store's channel cache (chancache.go);
	// chansTouched: this write changed a channel, so it reads them from
	// the database.
	chans        *chanCache
	chansTouched bool
	// caches are the SQLite store's cached tables (tablecache.go), set in
	// the writer's transactions only; touched names those this write
	// changed, which it reads from the database.
	caches  *tableCaches
	touched table
	// locked holds the integrations locked so far in a PostgreSQL group
	// transaction (group.go) or read so far in a SQLite batch; nil
	// elsewhere. Changes to an integration drop or update its entry.
	locked map[string]*alert.Integration
	// pg is the state of a PostgreSQL group transaction (group_pg.go):
	// integrations read without a lock and work deferred to its commit;
	// nil elsewhere.
	pg *pgGroupTx
	// readOnly is set in Read and ReadOne, which may take no row locks.
	readOnly bool
	// queued: this transaction queued an outbox message (EnqueueDelivery).
	queued bool
}

// forUpdate locks a row read for a read-modify-write on PostgreSQL; SQLite's
// single writer already serialises those.
func (t *Tx) forUpdate() string {
	if t.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Time columns hold unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func newMatcherCache() *matcherCache { return &matcherCache{m: map[string][]alert.Matcher{}} }

// noRows turns sql.ErrNoRows into ErrNotFound.
func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// args builds numbered placeholders for dynamic queries.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// insertID adds the id column to an INSERT into table on SQLite, where an
// INTEGER PRIMARY KEY without AUTOINCREMENT gives a new row the id of the
// newest deleted one: a stale "remove rule 7" would then remove the rule
// created since. The id comes from a counter that only grows, seeded from
// the table's highest id. PostgreSQL's identity columns never reuse an id,
// so there cols and a stay as they are.
func (t *Tx) insertID(ctx context.Context, table string, cols *string, a *args) (string, error) {
	if t.dialect != SQLite {
		return "", nil
	}
	var id int64
	err := t.q.QueryRowContext(ctx, `INSERT INTO counters (name, value) SELECT $1, COALESCE(MAX(id), 0) + 1 FROM `+table+` WHERE true
		ON CONFLICT (name) DO UPDATE SET value = max(counters.value + 1, excluded.value) RETURNING value`, "id:"+table).Scan(&id)
	if err != nil {
		return "", err
	}
	*cols += ", id"
	return ", " + a.add(id), nil
}

// likePattern escapes LIKE metacharacters so user text matches literally.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}
