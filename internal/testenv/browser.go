package testenv

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Browser tests are JavaScript files in tests/browser, run by
// tests/browser/run.mjs with playwright-core (from package-lock.json, so
// `npm ci` at the repository root) in Debian's Chromium. No browser is ever
// downloaded.

const (
	// browserTimeout bounds one RunBrowserTests call when the test has no
	// deadline; each browser test also has its own 60 s limit in run.mjs.
	browserTimeout = 10 * time.Minute
	// browserDeadlineMargin is kept free before go test's own -timeout, so
	// that a hung run is stopped (and its processes killed) by us rather
	// than by go test's panic, which skips cleanups.
	browserDeadlineMargin = 30 * time.Second
	// browserStopGrace is how long run.mjs gets to close Chromium after
	// SIGTERM before its processes are killed.
	browserStopGrace = 5 * time.Second
	// browserInlineData is the most test data passed in the environment;
	// more goes through a file (QUENCH_TEST_DATA_FILE).
	browserInlineData = 32 << 10
)

// chromiumNoise matches what the Debian wrapper script /usr/bin/chromium
// prints at every start ("/usr/bin/chromium: 9: [: 25275392000: unexpected
// operator"): harmless, and dropped from the test log.
var chromiumNoise = regexp.MustCompile(`^\s*(\[pid=\d+\]\[err\]\s*)?\S*chromium: \d+: `)

// chromiumPath is the browser the tests drive: QUENCH_CHROMIUM, or Debian's
// /usr/bin/chromium.
func chromiumPath() string {
	if p := os.Getenv("QUENCH_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// RunBrowserTests runs browser test files (names in tests/browser, or paths;
// none means every tests/browser/*.test.mjs) against the app at baseURL.
// data is handed to the tests as JSON (QUENCH_TEST_DATA): users, passwords,
// tokens. Each output line of the runner goes to t.Log; the test fails if
// any browser test fails.
//
// Without node, node_modules/playwright-core or Chromium the test is
// skipped, or fails when RequireAll() is set.
func RunBrowserTests(t *testing.T, baseURL string, data any, files ...string) {
	t.Helper()
	start := time.Now()
	res := runBrowser(t, browserRun{baseURL: baseURL, data: data, files: files})
	t.Logf("browser tests took %s", time.Since(start).Round(10*time.Millisecond))
	if len(res.leftovers) > 0 {
		t.Errorf("browser tests: processes %v were still running after the stop", res.leftovers)
	}
	if res.err != nil {
		t.Errorf("browser tests failed (%v): see the FAIL lines above; screenshots and page HTML are in %s",
			res.err, res.resultsDir)
	}
}

// browserRun is one run of tests/browser/run.mjs.
type browserRun struct {
	baseURL string
	data    any
	files   []string
	env     []string      // extra KEY=VALUE entries
	timeout time.Duration // 0: browserTimeout, cut to the test's deadline
	stopOn  string        // stop the run when a line contains this (tests of the stop itself)
	grace   time.Duration // 0: browserStopGrace
}

type browserResult struct {
	lines      []string // output, without Chromium wrapper noise
	err        error    // nil when run.mjs exited 0
	stopped    bool     // we stopped it: timeout, stopOn or cleanup
	leftovers  []int    // processes of the run still alive after the stop
	treeSize   int      // processes under node when it was stopped
	resultsDir string   // where run.mjs saves failure screenshots
}

// browserPrerequisites reports what is missing to run browser tests from
// the repository at root; empty means ready.
func browserPrerequisites(root string) []string {
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node is not on PATH")
	}
	installed, err := packageVersion(filepath.Join(root, "node_modules", "playwright-core", "package.json"))
	if err != nil {
		missing = append(missing, "node_modules/playwright-core is not installed")
	} else if want, err := lockedVersion(filepath.Join(root, "package-lock.json"), "playwright-core"); err == nil && want != installed {
		missing = append(missing, fmt.Sprintf("node_modules is out of date (playwright-core %s installed, package-lock.json has %s)", installed, want))
	}
	if fi, err := os.Stat(chromiumPath()); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		missing = append(missing, chromiumPath()+" is missing")
	}
	return missing
}

func packageVersion(path string) (string, error) {
	var pkg struct{ Version string }
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	return pkg.Version, err
}

func lockedVersion(lockPath, name string) (string, error) {
	var lock struct {
		Packages map[string]struct{ Version string }
	}
	b, err := os.ReadFile(lockPath)
	if err == nil {
		err = json.Unmarshal(b, &lock)
	}
	if err != nil {
		return "", err
	}
	p, ok := lock.Packages["node_modules/"+name]
	if !ok {
		return "", fmt.Errorf("%s is not in %s", name, lockPath)
	}
	return p.Version, nil
}

// repoRoot is the directory holding go.mod, found by walking up from the
// working directory (a test's package directory).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			t.Fatalf("no go.mod above %s", dir)
		}
		d = parent
	}
}

func runBrowser(t *testing.T, r browserRun) browserResult {
	t.Helper()
	root := repoRoot(t)
	if missing := browserPrerequisites(root); len(missing) > 0 {
		msg := "browser tests cannot run: " + strings.Join(missing, "; ") +
			". Run `npm ci` at the repository root and install Chromium " +
			"(`apt-get install --no-install-recommends chromium`); ./scripts/test does both."
		if RequireAll() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	res := browserResult{resultsDir: filepath.Join(root, "test-results")}

	data := []byte("{}")
	if r.data != nil {
		var err error
		if data, err = json.Marshal(r.data); err != nil {
			t.Fatalf("browser tests: test data: %v", err)
		}
	}
	// Playwright's profile and artifacts go under TMPDIR: in a test temp
	// dir they are removed even when the run is killed.
	tmp := t.TempDir()
	env := make([]string, 0, len(os.Environ())+8)
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "QUENCH_URL", "QUENCH_TEST_DATA", "QUENCH_TEST_DATA_FILE", "TMPDIR", "FORCE_COLOR", "NO_COLOR":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "QUENCH_URL="+r.baseURL, "TMPDIR="+tmp, "NO_COLOR=1")
	if len(data) <= browserInlineData {
		env = append(env, "QUENCH_TEST_DATA="+string(data))
	} else {
		f := filepath.Join(tmp, "quench-test-data.json")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, "QUENCH_TEST_DATA_FILE="+f)
	}
	env = append(env, r.env...)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "QUENCH_TEST_RESULTS="); ok {
			res.resultsDir = v
		}
	}

	timeout := r.timeout
	if timeout == 0 {
		timeout = browserTimeout
	}
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - browserDeadlineMargin; left < timeout {
			timeout = max(left, 5*time.Second)
		}
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command("node", append([]string{filepath.Join("tests", "browser", "run.mjs")}, r.files...)...)
	cmd.Dir = root
	cmd.Env = env
	cmd.Stdout = pw // one pipe for both keeps the lines in order
	cmd.Stderr = pw
	cmd.SysProcAttr = browserSysProcAttr()
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatalf("browser tests: starting node: %v", err)
	}
	pw.Close() // the child has its own copy; EOF comes when it (and any heir) exits

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			select {
			case <-exited:
				return // reaped: its pid may already belong to someone else
			default:
			}
			res.stopped = true
			grace := r.grace
			if grace == 0 {
				grace = browserStopGrace
			}
			res.treeSize, res.leftovers = stopProcessTree(cmd.Process.Pid, exited, grace)
		})
	}
	// Should anything below end the test early, the processes still go.
	t.Cleanup(stop)

	stopNow := make(chan struct{}, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			if chromiumNoise.MatchString(line) {
				continue
			}
			t.Log(line)
			res.lines = append(res.lines, line)
			if r.stopOn != "" && strings.Contains(line, r.stopOn) {
				select {
				case stopNow <- struct{}{}:
				default:
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Logf("browser tests: reading output: %v (the rest is dropped)", err)
			_, _ = io.Copy(io.Discard, pr) // never let node block on a full pipe
		}
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut error
	select {
	case <-exited:
	case <-timer.C:
		t.Errorf("browser tests did not finish within %s: stopping them", timeout)
		stop()
		timedOut = fmt.Errorf("timed out after %s", timeout)
	case <-stopNow:
		stop()
	}
	<-exited
	// Nothing else holds the pipe (Chromium's output goes to node), but do
	// not let a stray inheritor keep the test waiting.
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		pr.Close()
		<-readDone
	}
	res.err = waitErr
	if timedOut != nil {
		res.err = timedOut
	}
	return res
}

// browserSysProcAttr puts node in a process group of its own, so a stop
// reaches node and whatever it started in that group, and, on Linux, asks
// the kernel to kill node if the test binary dies without cleanups (go test
// -timeout panics). Chromium exits when node's pipe to it closes.
func browserSysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	// Pdeathsig exists on Linux only; set it where it does. It is tied to
	// the OS thread that started the child, and the runtime only retires
	// threads locked with runtime.LockOSThread, which this package never
	// does.
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL).Convert(f.Type()))
	}
	return attr
}

// stopProcessTree stops node (pid, leader of its own process group) and
// everything it started. Playwright starts Chromium detached, in a session
// and process group of its own, so the tree is read from /proc first, then
// node's group gets SIGTERM (run.mjs closes Chromium and exits), and after
// grace whatever is left of the tree gets SIGKILL. It returns how many
// processes node had under it and the pids still alive after that.
func stopProcessTree(pid int, exited <-chan struct{}, grace time.Duration) (int, []int) {
	tree := processTree(pid) // before any signal: orphans lose their parent link
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	own := syscall.Getpgrp()
	for p, start := range tree {
		if procStart(p) != start {
			continue // gone (or the pid was reused)
		}
		if g, err := syscall.Getpgid(p); err == nil && g != own && g > 1 {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	// Give the kernel a moment to reap them before reporting survivors.
	deadline := time.Now().Add(2 * time.Second)
	for {
		var alive []int
		for p, start := range tree {
			if procStart(p) == start && !procZombie(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return len(tree), alive
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processTree maps the descendants of pid (not pid itself) to their start
// times, read from /proc; empty where there is no /proc.
func processTree(pid int) map[int]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	starts := map[int]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fields, err := procStat(p)
		if err != nil {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], p)
		starts[p] = fields[19]
	}
	tree := map[int]string{}
	queue := append([]int(nil), children[pid]...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, seen := tree[p]; seen {
			continue
		}
		tree[p] = starts[p]
		queue = append(queue, children[p]...)
	}
	return tree
}

// procStat returns the fields of /proc/PID/stat after the command name:
// [0] state, [1] ppid, ..., [19] start time.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, errors.New("bad stat")
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return nil, errors.New("short stat")
	}
	return fields, nil
}

func procStart(pid int) string {
	f, err := procStat(pid)
	if err != nil {
		return ""
	}
	return f[19]
}

func procZombie(pid int) bool {
	f, err := procStat(pid)
	return err == nil && f[0] == "Z"
}
