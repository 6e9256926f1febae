package testenv

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SentrySink plays the Sentry server of a DSN on 127.0.0.1: it keeps every
// envelope it receives, raw, and the error events in them, so a test can
// check what Quench reports and that nothing else leaves with it.
type SentrySink struct {
	srv *httptest.Server
	mu  sync.Mutex
	raw []string
	evs []map[string]any
}

// NewSentrySink starts a sink, stopped at cleanup.
func NewSentrySink(t testing.TB) *SentrySink {
	s := &SentrySink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.HasSuffix(r.URL.Path, "/envelope/") {
			t.Errorf("sentry sink: %s %s", r.Method, r.URL.Path)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.raw = append(s.raw, string(body))
		// An envelope: a header line, then per item a header line and a
		// payload line.
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		sc.Scan()
		for sc.Scan() {
			var item struct {
				Type string `json:"type"`
			}
			json.Unmarshal(sc.Bytes(), &item)
			if !sc.Scan() {
				break
			}
			if item.Type == "event" {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Errorf("sentry sink: event payload: %v", err)
				}
				s.evs = append(s.evs, ev)
			}
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// DSN is a SENTRY_DSN that sends to the sink.
func (s *SentrySink) DSN() string {
	return "http://publickey@" + strings.TrimPrefix(s.srv.URL, "http://") + "/42"
}

// Events returns the error events received so far, and every envelope
// as it arrived.
func (s *SentrySink) Events() (events []map[string]any, raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any{}, s.evs...), strings.Join(s.raw, "\n")
}

// SentryException is the innermost exception of an event (the cause).
func SentryException(t testing.TB, ev map[string]any) map[string]any {
	t.Helper()
	list, _ := ev["exception"].([]any)
	if len(list) == 0 {
		t.Fatalf("event without exception: %v", ev)
	}
	return list[len(list)-1].(map[string]any)
}

// LoseTable renames a table of the SQLite database in dataDir from behind
// a running server, which goes on as if nothing happened: its next
// statement on the table fails, a 500 with a real cause.
func LoseTable(t testing.TB, dataDir, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "quench.db")+"?_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE ` + table + ` RENAME TO ` + table + `_lost`); err != nil {
		t.Fatal(err)
	}
}
