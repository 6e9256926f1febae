package promstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long one process may take to answer /-/ready.
	// Both start in 1–2 s on an idle machine; the margin is for loaded CI.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a process gets to exit after SIGTERM before it
	// is killed. Both normally exit within ~1 s.
	stopGrace = 5 * time.Second
	// bindAttempts is how often a start is retried with a new port when the
	// port picked by freePort was taken in between (another test, another
	// process): picking a port and binding it are not atomic.
	bindAttempts = 3
	// tailLines is how much of a process log is shown on failure: enough for
	// the config or bind error, short enough to keep test output readable.
	tailLines = 40
	// problemLines is how many warning/error lines are shown on failure.
	problemLines = 10
)

// localClient talks only to the child processes on 127.0.0.1. It never uses
// a proxy from the environment: a misconfigured HTTP_PROXY must not turn a
// readiness probe into outbound traffic.
var localClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   5 * time.Second,
}

// process is one child (Alertmanager or Prometheus) and what is needed to
// stop it and explain its failures.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd

	done    chan struct{} // closed when cmd.Wait returns
	waitErr error         // valid after done is closed

	mu        sync.Mutex
	stopping  bool // we sent the signal; an exit is expected
	tailShown bool // the log tail was already printed by a t.Fatal
}

// freePort asks the kernel for a free loopback port. The listener is closed
// before the child binds the port, so the port can be lost in between; the
// caller retries on "address already in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// launch starts bin on a fresh port and waits until it answers /-/ready.
// args builds the command line (and writes any port-dependent config) for a
// given port. The process is registered for stopping in t.Cleanup before
// the readiness wait, so a t.Fatal here never leaves it running.
func launch(t testing.TB, name, bin, dir string, args func(port int) ([]string, error)) (*process, string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("promstack: %s: picking a port: %v", name, err)
		}
		argv, err := args(port)
		if err != nil {
			t.Fatalf("promstack: %s: %v", name, err)
		}
		p, err := startProcess(name, bin, dir, logPath, attempt, argv)
		if err != nil {
			t.Fatalf("promstack: %s: %v", name, err)
		}
		t.Cleanup(func() { p.cleanup(t) })

		baseURL := "http://127.0.0.1:" + strconv.Itoa(port)
		err = waitReady(baseURL, p)
		if err == nil {
			return p, baseURL
		}
		p.stop(t)
		if p.exited() && attempt < bindAttempts && logMentions(logPath, "address already in use") {
			t.Logf("promstack: %s: port %d was taken, retrying on another port", name, port)
			p.markTailShown() // the retry shares the log file; show it once
			continue
		}
		p.markTailShown()
		t.Fatalf("promstack: %s (%s %s): %v\n%s",
			name, bin, strings.Join(argv, " "), err, logReport(logPath))
	}
}

// startProcess starts the child with stdout and stderr appended to logPath.
// Appending keeps the log of a failed bind attempt next to the retry's.
func startProcess(name, bin, dir, logPath string, attempt int, argv []string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	fmt.Fprintf(logf, "=== promstack attempt %d: %s %s\n", attempt, bin, strings.Join(argv, " "))

	cmd := exec.Command(bin, argv...)
	cmd.Dir = dir // any relative path a binary falls back to lands in the temp dir
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls baseURL/-/ready until it answers 200, the process exits,
// or readyTimeout passes. /-/ready rather than a TCP connect, because both
// servers listen before they have loaded config and storage.
func waitReady(baseURL string, p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	// A probe must not outlive the process: if the port was grabbed by a
	// listener that never answers, the exit is what tells us to retry.
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = probe(ctx, baseURL+"/-/ready"); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before becoming ready: %v", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s (last probe: %v)", readyTimeout, last)
		case <-tick.C:
		}
	}
}

// probe reports whether url answers 200 within a second.
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) markTailShown() {
	p.mu.Lock()
	p.tailShown = true
	p.mu.Unlock()
}

// stop ends the process: SIGTERM so it can flush and log why it exits,
// SIGKILL after stopGrace. Signals go through os.Process (a pidfd on Linux),
// so a recycled PID can never be hit. Safe to call more than once.
func (p *process) stop(t testing.TB) {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Logf("promstack: %s: SIGTERM: %v", p.name, err)
	}
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	t.Logf("promstack: %s (pid %d) still running %s after SIGTERM; sending SIGKILL", p.name, p.cmd.Process.Pid, stopGrace)
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("promstack: %s: SIGKILL: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		t.Errorf("promstack: %s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// cleanup stops the process and, if the test failed, shows its log: the
// process log is usually the only place that says why no webhook arrived.
// A process that died on its own while the test ran is reported as an
// error, since nothing in this package's API lets it exit legitimately.
func (p *process) cleanup(t testing.TB) {
	p.mu.Lock()
	unexpected := !p.stopping && p.exited()
	p.mu.Unlock()
	if unexpected {
		t.Errorf("promstack: %s exited unexpectedly during the test: %v", p.name, p.waitErr)
	}
	p.stop(t)
	p.mu.Lock()
	shown := p.tailShown
	p.mu.Unlock()
	if t.Failed() && !shown {
		t.Logf("promstack: %s log:\n%s", p.name, logReport(p.logPath))
	}
}

// logReport summarises a process log for a failure message: the last
// warnings and errors (with debug logging the root cause is easily pushed
// out of the tail by later chatter) followed by the last lines.
func logReport(path string) string {
	b, err := readEnd(path, 1<<20)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var problems []string
	for _, l := range lines {
		if strings.Contains(l, "level=error") || strings.Contains(l, "level=warn") {
			problems = append(problems, l)
		}
	}
	var r strings.Builder
	if len(problems) > 0 {
		fmt.Fprintf(&r, "--- warnings and errors in %s (last %d) ---\n", path, min(len(problems), problemLines))
		r.WriteString(strings.Join(problems[max(0, len(problems)-problemLines):], "\n"))
		r.WriteString("\n")
	}
	fmt.Fprintf(&r, "--- last lines of %s ---\n", path)
	r.WriteString(strings.Join(lines[max(0, len(lines)-tailLines):], "\n"))
	return r.String()
}

// readEnd reads at most the last limit bytes of the file at path.
func readEnd(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		if _, err := f.Seek(-limit, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}

// logMentions reports whether the log at path contains s.
func logMentions(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}
