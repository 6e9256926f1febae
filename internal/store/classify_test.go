package store

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quenchhq/quench/internal/problem"
)

// Errors that mean "the database is away for a moment" are 503s with
// Retry-After, so senders retry; found by the fault suite restarting
// PostgreSQL under load, where each of these was a 500.
func TestClassifyTransient(t *testing.T) {
	s := &Store{dialect: Postgres}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: fmt.Errorf("read: %w", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"connection reset under a statement", fmt.Errorf("insert alert: %w", reset), "unavailable"},
		{"transaction ended by database/sql", fmt.Errorf("commit: %w", sql.ErrTxDone), "unavailable"},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, "unavailable"},
		{"disk full", &pgconn.PgError{Code: "53100"}, "storage_full"},
	} {
		err := s.classify(tc.err)
		p, ok := problem.As(err)
		if !ok || p.Kind != problem.Unavailable || p.Code != tc.code {
			t.Errorf("%s: classified as %v, want Unavailable %s", tc.name, err, tc.code)
		}
	}
	if err := s.CheckSpace(); !problem.Is(err, "storage_full") {
		t.Errorf("readiness after PostgreSQL's disk_full: %v, want storage_full", err)
	}
	if err := s.classify(&pgconn.PgError{Code: "23505"}); problem.Is(err, "unavailable") || !errors.As(err, new(*pgconn.PgError)) {
		t.Errorf("a unique violation is no outage: %v", err)
	}
}
