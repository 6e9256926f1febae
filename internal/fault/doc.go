// Package fault is Quench's fault suite: it runs the real `quench serve`
// binary as a child process, on SQLite and on PostgreSQL, and hurts it the
// ways production does — kill -9 under load, a full disk, PostgreSQL
// restarting, SIGTERM with requests in flight — then checks that nothing a
// client was told had succeeded is lost or half-written.
//
// The tests are ordinary Go tests with reduced counts, so `go test ./...`
// runs them; QUENCH_TEST_LONG=1 (./scripts/test --long) runs the long form.
// Everything listens on 127.0.0.1, lives in temp directories and is stopped
// by PID; the PostgreSQL that is restarted or filled is a private cluster
// the tests start themselves, never a shared one.
package fault
