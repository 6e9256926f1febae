package fault

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/quenchhq/quench/internal/testenv"
)

// Bounds that only catch hangs. Nothing here measures speed: on a loaded
// two-core CI machine a start takes a second or two, and every deadline
// is many times what a healthy run needs.
const (
	// readyDeadline bounds a start until /readyz answers 200.
	readyDeadline = 60 * time.Second
	// exitDeadline bounds how long a killed or stopped process may take
	// to be reaped.
	exitDeadline = 30 * time.Second
	// requestTimeout bounds one client request.
	requestTimeout = 30 * time.Second
)

// long reports whether the long form was asked for (./scripts/test --long).
func long() bool { return os.Getenv("QUENCH_TEST_LONG") == "1" }

// pick returns the CI count or, in the long form, the long one.
func pick(ci, longForm int) int {
	if long() {
		return longForm
	}
	return ci
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	tmpRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theCluster != nil {
		theCluster.shutdown()
	}
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// binary builds cmd/quench once per package run: the tests run the binary
// operators run, not the code in-process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if tmpRoot, buildErr = os.MkdirTemp("", "quench-fault-"); buildErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(tmpRoot, "quench")
		out, err := exec.Command(goBin, "build", "-o", binPath, "github.com/quenchhq/quench/cmd/quench").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/quench: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// database is where one Quench instance keeps its data.
type database struct {
	dialect string // "sqlite" or "postgres"
	dataDir string // SQLite
	url     string // PostgreSQL
}

func sqliteAt(dir string) database { return database{dialect: "sqlite", dataDir: dir} }
func postgresAt(url string) database {
	return database{dialect: "postgres", url: url}
}

// eachDatabase runs fn on SQLite and, when configured, on a fresh database
// of the test PostgreSQL (QUENCH_TEST_POSTGRES_URL).
func eachDatabase(t *testing.T, fn func(t *testing.T, db database)) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			if d == "postgres" {
				fn(t, postgresAt(testenv.FreshPostgres(t)))
				return
			}
			fn(t, sqliteAt(filepath.Join(t.TempDir(), "data")))
		})
	}
}

func (d database) env() []string {
	if d.dialect == "postgres" {
		return []string{"QUENCH_DATABASE_URL=" + d.url}
	}
	return []string{"QUENCH_DATA_DIR=" + d.dataDir}
}

// open connects the test itself to the database, for checks the API
// cannot make (integrity, duplicates). On SQLite it is a query-only
// connection next to the server's; it is not the last connection to close
// while a server runs, so it never checkpoints behind the server's back.
func (d database) open(t testing.TB) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if d.dialect == "postgres" {
		db, err = sql.Open("pgx", d.url)
	} else {
		// Escaped: subtests of repeated rounds have '#' in their temp dirs.
		path := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.Join(d.dataDir, "quench.db"))
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)&_pragma=query_only(1)")
	}
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// instance is one Quench installation: a database with an Alertmanager
// integration and an API token, and the server processes started on it one
// after the other.
type instance struct {
	db  database
	dir string // logs and $HOME of the processes
	env []string

	integration string // ID
	intakeToken string
	apiToken    string

	// started counts server starts, to name their logs.
	started atomic.Int64
}

// setup prepares a fresh installation the way an operator does, with the
// CLI: migrate, add an Alertmanager integration, an admin and a token.
func setup(t *testing.T, db database, env ...string) *instance {
	t.Helper()
	in := newInstance(t, db, env...)
	in.cli(t, nil, "migrate")
	in.addIntegration(t)
	in.cli(t, strings.NewReader("fault-suite-password\n"), "user", "add", "--admin", "--password-stdin", "fault")
	in.apiToken = strings.TrimSpace(in.cli(t, nil, "token", "create", "--user", "fault", "--scopes", "read,write", "--name", "fault"))
	if in.apiToken == "" {
		t.Fatal("quench token create printed no token")
	}
	return in
}

// newInstance is an installation whose database nobody has touched yet.
func newInstance(t *testing.T, db database, env ...string) *instance {
	t.Helper()
	in := &instance{db: db, dir: t.TempDir()}
	in.env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + in.dir, "TZ=UTC",
		"QUENCH_LOG_FORMAT=json", "QUENCH_LOG_LEVEL=info",
	}, db.env()...)
	in.env = append(in.env, env...)
	return in
}

// addIntegration adds the Alertmanager integration the deliveries go to.
func (in *instance) addIntegration(t testing.TB) {
	t.Helper()
	out := in.cli(t, nil, "integration", "add", "--type", "alertmanager", "--name", "fault")
	if m := regexp.MustCompile(`/api/v1/intake/alertmanager/(\S+)`).FindStringSubmatch(out); m != nil {
		in.integration = m[1]
	}
	if m := regexp.MustCompile(`(?m)^token:\s+(\S+)`).FindStringSubmatch(out); m != nil {
		in.intakeToken = m[1]
	}
	if in.integration == "" || in.intakeToken == "" {
		t.Fatalf("quench integration add: no URL or token in:\n%s", out)
	}
}

// cli runs one quench command against the installation's database.
func (in *instance) cli(t testing.TB, stdin io.Reader, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(in.env, "QUENCH_LOG_LEVEL=warn")
	cmd.Dir = in.dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("quench %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// server is one `quench serve` process.
type server struct {
	name    string
	url     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process is reaped
	waitErr error
	// ready is how long the start took until /readyz answered 200.
	ready time.Duration
}

// start runs `quench serve` on a free loopback port and waits until it is
// ready. extra adds environment variables for this start only.
func (in *instance) start(t testing.TB, extra ...string) *server {
	t.Helper()
	n := in.started.Add(1)
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		s := &server{
			name:    fmt.Sprintf("serve-%d", n),
			url:     "http://" + addr,
			logPath: filepath.Join(in.dir, fmt.Sprintf("serve-%d-%d.log", n, attempt)),
			done:    make(chan struct{}),
		}
		logf, err := os.Create(s.logPath)
		if err != nil {
			t.Fatal(err)
		}
		s.cmd = exec.Command(binary(t), "serve")
		s.cmd.Env = append(append(append([]string{}, in.env...), "QUENCH_ADDR="+addr, "QUENCH_BASE_URL="+s.url), extra...)
		s.cmd.Dir = in.dir
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		// The kernel kills the child if the test binary dies first.
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		t0 := time.Now()
		err = s.cmd.Start()
		logf.Close()
		if err != nil {
			t.Fatalf("start quench serve: %v", err)
		}
		go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(func() { in.reap(t, s) })
		err = s.waitReady(readyDeadline)
		if err == nil {
			s.ready = time.Since(t0)
			return s
		}
		if s.exited() && attempt < 3 && strings.Contains(readFile(s.logPath), "address already in use") {
			continue // the port was taken between picking and binding
		}
		s.kill(t)
		t.Fatalf("quench serve did not become ready: %v\n%s", err, tail(s.logPath, 40))
	}
}

// reap makes sure a server is gone when the test ends and shows its log if
// the test failed.
func (in *instance) reap(t testing.TB, s *server) {
	if !s.exited() {
		s.kill(t)
	}
	if t.Failed() {
		t.Logf("--- %s log (last lines) ---\n%s", s.name, tail(s.logPath, 30))
	}
}

func freePort(t testing.TB) int {
	p, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pickPort asks the kernel for a free loopback port. Picking and binding
// are not atomic: callers retry when the port was taken in between.
func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	var last error
	for {
		resp, err := c.Get(s.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz: %s", resp.Status)
		}
		last = err
		if s.exited() {
			return fmt.Errorf("exited: %v (last probe: %v)", s.waitErr, last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (last probe: %v)", limit, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be reaped. Signals go
// through os.Process (a pidfd on Linux), never to a recycled PID.
func (s *server) kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill %s: %v", s.name, err)
	}
	s.waitExit(t, exitDeadline)
}

// waitExit waits for the process to end; a process still running after
// limit is a hang.
func (s *server) waitExit(t testing.TB, limit time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("%s (pid %d) still running %s later", s.name, s.cmd.Process.Pid, limit)
	}
}

// logErrors returns the log lines at level ERROR that allow does not
// explain: an error the test did not expect is a finding.
func (s *server) logErrors(allow ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(readFile(s.logPath)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"level":"ERROR"`) {
			continue
		}
		for _, a := range allow {
			if strings.Contains(line, a) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// checkLog fails the test on unexpected ERROR lines in the server's log.
func (s *server) checkLog(t testing.TB, allow ...string) {
	t.Helper()
	if errs := s.logErrors(allow...); len(errs) > 0 {
		t.Errorf("%s logged %d unexpected error(s), first: %s", s.name, len(errs), errs[0])
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func tail(path string, n int) string {
	lines := strings.Split(strings.TrimRight(readFile(path), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// client talks to the servers on 127.0.0.1 only, never through a proxy.
func newClient(conns int) *http.Client {
	return &http.Client{Timeout: requestTimeout, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

// reply is what one request got: a status (0 when no response arrived).
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func do(ctx context.Context, c *http.Client, method, url, token string, body []byte) reply {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		// A status without its whole body is no acknowledgement.
		return reply{err: err}
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// jitter returns a random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}
