package fault

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quenchhq/quench/internal/testenv"
)

// quench serve with SENTRY_DSN: the cause of a 500 reaches the DSN's
// server (here on 127.0.0.1) by the time the process has exited after
// SIGTERM, tagged with the release `quench version` names and the
// environment, and without the request's token or content.
func TestSentryFromServe(t *testing.T) {
	sink := testenv.NewSentrySink(t)
	in := setup(t, sqliteAt(filepath.Join(t.TempDir(), "data")))
	s := in.start(t, "SENTRY_DSN="+sink.DSN(), "SENTRY_ENVIRONMENT=fault-suite")
	ctx := context.Background()
	c := newClient(1)
	const title = "Quarterly numbers leaked to a competitor"
	if r := do(ctx, c, "POST", s.url+"/api/v1/incidents", in.apiToken, []byte(`{"title": "`+title+`", "severity": "minor"}`)); r.status != http.StatusCreated {
		t.Fatalf("open incident: %d %s", r.status, r.body)
	}
	// The links table disappears under the running server: adding a link
	// is a 500 with a real cause.
	testenv.LoseTable(t, in.db.dataDir, "links")
	r := do(ctx, c, "POST", s.url+"/api/v1/incidents/1/links", in.apiToken, []byte(`{"url": "https://wiki.example.com/q3", "title": "`+title+`"}`))
	if r.status != http.StatusInternalServerError {
		t.Fatalf("link without a links table: %d %s", r.status, r.body)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitExit(t, exitDeadline)
	if s.waitErr != nil {
		t.Errorf("quench serve exited with %v", s.waitErr)
	}
	s.checkLog(t, "request failed")

	evs, raw := sink.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events reached Sentry, want 1:\n%s", len(evs), raw)
	}
	version := strings.Fields(in.cli(t, nil, "version"))[1]
	if evs[0]["release"] != "quench@"+version || evs[0]["environment"] != "fault-suite" {
		t.Errorf("release %v (quench version says %s), environment %v", evs[0]["release"], version, evs[0]["environment"])
	}
	if exc := testenv.SentryException(t, evs[0]); !strings.Contains(exc["value"].(string), "no such table: links") {
		t.Errorf("the event's cause: %v", exc)
	}
	for _, secret := range []string{title, in.apiToken} {
		if strings.Contains(raw, secret) {
			t.Errorf("the event carries %q", secret)
		}
	}
}
