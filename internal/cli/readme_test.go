package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// readmeSkipped are the README's quench commands this test does not run,
// and why. Keep it short: every other command must run as written.
var readmeSkipped = map[string]string{
	"go run ./cmd/quench serve":                       "the test runs the server it builds, in the same folder, as the README says",
	"./quench channel test 1":                         "sends a message to hooks.slack.com: needs the internet",
	"./quench delivery retry 17":                      "needs a failed message 17 from a real channel",
	"podman exec quench /quench user add --admin ana": "needs a container runtime and the image",
}

// readmeCommands returns the README's shell commands, block by block, with
// continuation lines joined; comments and blank lines are dropped.
func readmeCommands(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in, pending := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in = true
			continue
		case in && strings.TrimSpace(line) == "```":
			in = false
			continue
		case !in:
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont
			continue
		}
		line = pending + line
		pending = ""
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			out = append(out, strings.Join(strings.Fields(s), " "))
		}
	}
	return out
}

// withoutComment cuts a trailing "# …" comment (outside quotes: the
// README's commands quote '#ops').
func withoutComment(cmd string) string {
	quote := rune(0)
	for i, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote == 0 && r == '#' && i > 0 && cmd[i-1] == ' ':
			return strings.TrimSpace(cmd[:i])
		}
	}
	return cmd
}

// Every quench command the README shows runs as written, in order, in a
// fresh folder next to a running `quench serve` (the binary built as the
// README builds it), and ends its output with a newline. The client finds
// the server through QUENCH_ADDR, as a user's shell would.
func TestReadmeCommandsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quench binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	commands := readmeCommands(t, filepath.Join(root, "README.md"))
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := append(os.Environ(),
		"QUENCH_ADDR="+addr, "QUENCH_LOG_LEVEL=warn",
		// The README's channels: e-mail needs a mail server configured,
		// Slack and webhook hosts are only named (nothing is sent).
		"QUENCH_SMTP_HOST=127.0.0.1", "QUENCH_SMTP_FROM=quench@example.com", "QUENCH_OUTBOUND_ALLOW=hooks.slack.com,status.example.com")
	for _, k := range []string{"QUENCH_URL", "QUENCH_BASE_URL", "QUENCH_TOKEN", "QUENCH_DATA_DIR", "QUENCH_DATABASE_URL"} {
		env = append(env, k+"=")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bash := func(cmd string) (string, error) {
		c := exec.Command("bash", "-c", cmd)
		c.Dir, c.Env = dir, append(env, "PATH="+filepath.Dir(goBin)+":"+os.Getenv("PATH"))
		out, err := c.CombinedOutput()
		return string(out), err
	}
	built, served := false, false
	seen := map[string]bool{}
	for _, cmd := range commands {
		seen[withoutComment(cmd)] = true
	}
	for cmd := range readmeSkipped {
		if !seen[cmd] {
			t.Errorf("readmeSkipped lists %q, which the README no longer shows", cmd)
		}
	}
	for _, cmd := range commands {
		cmd = withoutComment(cmd)
		first, _, _ := strings.Cut(cmd, " ")
		isQuench := first == "./quench" || first == "quench" || strings.Contains(cmd, "/quench ") || strings.Contains(cmd, "$(quench ") ||
			strings.Contains(cmd, "./cmd/quench")
		if !isQuench {
			continue // curl, ./scripts/test, podman build: not the CLI
		}
		if first == "kubectl" {
			t.Logf("skipped %q: needs a Kubernetes cluster running Quench", cmd)
			continue
		}
		if reason, ok := readmeSkipped[cmd]; ok {
			t.Logf("skipped %q: %s", cmd, reason)
			continue
		}
		switch {
		case cmd == "go build -o quench ./cmd/quench":
			// Built from the repository into the fresh folder.
			c := exec.Command(goBin, "build", "-o", filepath.Join(dir, "quench"), "./cmd/quench")
			c.Dir = root
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			built = true
			continue
		case !built:
			t.Fatalf("the README runs %q before it builds quench", cmd)
		}
		if !served {
			startServer(t, dir, env, addr)
			served = true
		}
		if name, value, ok := strings.Cut(strings.TrimPrefix(cmd, "export "), "=$("); first == "export" && ok {
			out, err := bash(strings.TrimSuffix(value, ")"))
			if err != nil || strings.TrimSpace(out) == "" {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			env = append(env, name+"="+strings.TrimSpace(out))
			continue
		}
		out, err := bash(cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		if out != "" && !strings.HasSuffix(out, "\n") {
			t.Errorf("%s: output does not end with a newline: %q", cmd, out)
		}
		t.Logf("$ %s\n%s", cmd, out)
	}
	if !built || !served {
		t.Fatal("the README's First steps block was not found")
	}
}

// startServer runs `quench serve` in dir until the test ends.
func startServer(t *testing.T, dir string, env []string, addr string) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, filepath.Join(dir, "quench"), "serve")
	srv.Dir, srv.Env = dir, env
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	srv.Cancel = func() error { return srv.Process.Signal(os.Interrupt) }
	srv.WaitDelay = 10 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Logf("quench serve:\n%s", b)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("quench serve did not answer /healthz at %s within 20 s", addr)
		}
	}
}
