package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/config"
)

// serve's logs: JSON when nobody reads them live (a pipe, a file, Loki),
// readable lines when asked for (or on a terminal).
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	newLogger(config.Config{LogLevel: "info"}, &buf).Info("listening", "addr", "127.0.0.1:8080")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "listening" || rec["addr"] != "127.0.0.1:8080" {
		t.Fatalf("not a terminal, no QUENCH_LOG_FORMAT: want JSON, got %q (%v)", buf.String(), err)
	}
	if isTerminal(&buf) {
		t.Fatal("a buffer taken for a terminal")
	}
	buf.Reset()
	log := newLogger(config.Config{LogLevel: "info", LogFormat: "text"}, &buf)
	log.Debug("hidden")
	log.Info("starting quench", "version", "v1.2.0", "config", map[string]string{"addr": "127.0.0.1:8080", "database": "sqlite:./quench-data", "oidc": ""})
	log.With("job", "outbox").Warn("delivery failed", "error", `connection refused: "x"`)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\d\d:\d\d:\d\d INFO  starting quench version=v1\.2\.0 config\.addr=127\.0\.0\.1:8080 config\.database=sqlite:\./quench-data$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d WARN  delivery failed job=outbox error="connection refused: \\"x\\""$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("text lines: %q", buf.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %s", i, lines[i], re)
		}
	}
}
