package crash_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/crash"
)

// The reporting itself, against a Sentry endpoint on loopback, is tested
// where the failures happen: internal/server TestPanicsAndServerErrorsReachSentry.

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		`Authorization: Bearer qnch_abcdefgh12345678`: `Authorization: [redacted] [redacted]`,
		`bearer abc.def`:                                               `bearer [redacted]`,
		`login with password=hunter2 failed`:                           `login with password=[redacted] failed`,
		`Cookie: quench_session=qs_abc`:                                `Cookie: [redacted]`,
		`dial postgres://quench:s3cret@db:5432/quench`:                 `dial postgres://[redacted]@db:5432/quench`,
		`insert incident "Payroll leaks": constraint`:                  `insert incident "[redacted]": constraint`,
		`near 'DROP': syntax error`:                                    `near '[redacted]': syntax error`,
		`token qnch_int_abcdefghijklmnop in log`:                       `token [redacted] in log`,
		`secret whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ= leaked`:             `secret [redacted] leaked`,
		`GET /heartbeat/abcdefghijklmnopqrstuvwxyz0123456789ABCD/ping`: `GET /heartbeat/[redacted]/ping`,
		`no such table: links`:                                         `no such table: links`,
	} {
		if got := crash.Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

// Without a DSN nothing is wrapped and nothing is sent.
func TestNoDSN(t *testing.T) {
	rep, err := crash.New(crash.Options{})
	if err != nil || rep.Enabled() {
		t.Fatalf("%v %v", rep.Enabled(), err)
	}
	h := slog.DiscardHandler
	if rep.Handler(h) != h || !rep.Flush(time.Second) {
		t.Fatal("a disabled reporter wraps the log handler")
	}
	if _, err := crash.New(crash.Options{DSN: "not a dsn"}); err == nil {
		t.Fatal("malformed DSN accepted")
	}
}
