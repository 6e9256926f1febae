package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements for the SQLite writer. The writer runs
// the same few statements thousands of times a second and SQLite's parser
// was a quarter of its CPU. The single write connection is busy inside a
// transaction, so a statement seen there is only noted, and prepared by the
// writer between batches when the connection is free.
type stmtCache struct {
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

// maxCachedStmts bounds the cache; dynamic queries beyond it run unprepared.
const maxCachedStmts = 256

// maxCachedQuery bounds the text of a cached statement: a prepared
// multi-row INSERT of hundreds of rows holds a large program, and the
// big deliveries that make one are rare enough to parse each time.
const maxCachedQuery = 8 << 10

func newStmtCache() *stmtCache {
	return &stmtCache{stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stmts[query]
	if st == nil && len(c.stmts)+len(c.pending) < maxCachedStmts && len(query) <= maxCachedQuery {
		c.pending[query] = true
	}
	return st
}

// prepare prepares the noted statements; call only while no transaction
// holds the write connection.
func (c *stmtCache) prepare(db *sql.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.pending {
		if st, err := db.Prepare(q); err == nil {
			c.stmts[q] = st
		}
		delete(c.pending, q)
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

// cachedTx runs the writer's statements through the cache inside one
// transaction. Statements ignore cancellation: an interrupted statement
// makes SQLite roll back the whole transaction, which is shared by every
// job of the batch, so one client hanging up would fail its neighbours.
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
	// bound holds the cached statements bound to tx so far: binding one
	// (Tx.StmtContext) allocates a statement that lives until the
	// transaction ends, and a batch runs the same few thousands of times.
	bound map[*sql.Stmt]*sql.Stmt
}

// stmt is the cached statement of query bound to the transaction, nil when
// none is cached.
func (q cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.cache.lookup(query)
	if st == nil {
		return nil
	}
	b := q.bound[st]
	if b == nil {
		b = q.tx.StmtContext(ctx, st)
		q.bound[st] = b
	}
	return b
}

func (q cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

// cachedDB runs single statements on the read pool without a transaction,
// through prepared statements: the lookups every request makes (token,
// integration) then cost one statement instead of three parsed ones.
type cachedDB struct {
	db    *sql.DB
	cache *readStmts
}

type readStmts struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func (c *readStmts) get(ctx context.Context, db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok || len(c.stmts) >= maxCachedStmts {
		return st
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.stmts[query] = st
	return st
}

func (c *readStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

func (q cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.cache.get(ctx, q.db, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.db.ExecContext(ctx, query, args...)
}

func (q cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.cache.get(ctx, q.db, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.db.QueryContext(ctx, query, args...)
}

func (q cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.cache.get(ctx, q.db, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.db.QueryRowContext(ctx, query, args...)
}
