package fault

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/testenv"
)

// cluster is a private PostgreSQL the fault tests start, stop, restart and
// fill as they please: a postmaster run as a child process (never
// daemonized, so the kernel ends it with the test binary) on a data
// directory in a temp dir, listening on 127.0.0.1 only. It is never the
// shared cluster of QUENCH_TEST_POSTGRES_URL.
//
// Durability settings: synchronous_commit=on, so a commit Quench
// acknowledged is in the WAL before PostgreSQL answers and survives a
// crash of PostgreSQL (immediate shutdown); fsync=off, because the tests
// crash processes, not the machine, and the machine is shared.
type cluster struct {
	bindir string
	dir    string
	port   int
	cred   *syscall.Credential // the postgres user, when running as root
	uid    int
	gid    int

	mu       sync.Mutex
	postgres *exec.Cmd
	done     chan struct{}
}

var (
	clusterOnce sync.Once
	theCluster  *cluster
	clusterErr  error
)

// privateCluster returns the package's private cluster, starting it on
// first use. Without PostgreSQL's server binaries it skips the test, or
// fails it when QUENCH_TEST_REQUIRE_ALL=1.
func privateCluster(t testing.TB) *cluster {
	t.Helper()
	clusterOnce.Do(func() { theCluster, clusterErr = startCluster() })
	if clusterErr != nil {
		msg := "private PostgreSQL cluster: " + clusterErr.Error()
		if testenv.RequireAll() {
			t.Fatal(msg + " (QUENCH_TEST_REQUIRE_ALL=1 forbids skipping)")
		}
		t.Skip(msg)
	}
	return theCluster
}

func startCluster() (*cluster, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	c := &cluster{uid: os.Getuid(), gid: os.Getgid()}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			c.bindir = d
		}
	}
	if c.bindir == "" {
		if p, err := exec.LookPath("initdb"); err == nil {
			c.bindir = filepath.Dir(p)
		} else {
			return nil, errors.New("initdb not found (apt-get install postgresql)")
		}
	}
	if os.Getuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}
	}
	dir, err := os.MkdirTemp("", "quench-fault-pg-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, c.uid, c.gid); err != nil {
		return nil, err
	}
	initdb := exec.Command(filepath.Join(c.bindir, "initdb"), "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for range 3 {
		l, err := pickPort()
		if err != nil {
			return nil, err
		}
		c.port = l
		if err = c.start(); err == nil {
			return c, nil
		}
		if !strings.Contains(readFile(c.logPath()), "in use") {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no free port for PostgreSQL:\n%s", tail(c.logPath(), 20))
}

func (c *cluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// URL is the admin URL of database name.
func (c *cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// start runs the postmaster and waits until it accepts connections.
func (c *cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	logf, err := os.OpenFile(c.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(c.bindir, "postgres"), "-D", c.data(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "synchronous_commit=on", "-c", "full_page_writes=off", "-c", "max_connections=100")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.postgres, c.done = cmd, done
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(readyDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("postgres exited: %v\n%s", err, tail(c.logPath(), 20))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("postgres not accepting connections after %s: %v", readyDeadline, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the postmaster down: "fast" (SIGINT: disconnect clients,
// checkpoint) or "immediate" (SIGQUIT: a crash; recovery replays the WAL
// at the next start).
func (c *cluster) stop(mode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig := syscall.SIGINT
	if mode == "immediate" {
		sig = syscall.SIGQUIT
	}
	if err := c.postgres.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(exitDeadline):
		c.postgres.Process.Kill()
		<-c.done
		return fmt.Errorf("postgres did not stop (%s) within %s", mode, exitDeadline)
	}
}

// shutdown ends the cluster for good; TestMain calls it.
func (c *cluster) shutdown() {
	if c.postgres != nil {
		c.stop("fast")
	}
	os.RemoveAll(c.dir)
}

// database creates a fresh database, dropped at cleanup, and returns its URL.
func (c *cluster) database(t testing.TB) string {
	return c.createDatabase(t, "")
}

// databaseOn creates a fresh database whose tables live in a tablespace in
// dir (a mount the test controls, to fill it up), and returns its URL.
func (c *cluster) databaseOn(t testing.TB, dir string) string {
	t.Helper()
	if err := os.Chown(dir, c.uid, c.gid); err != nil {
		t.Fatal(err)
	}
	return c.createDatabase(t, dir)
}

func (c *cluster) createDatabase(t testing.TB, tablespaceDir string) string {
	t.Helper()
	b := make([]byte, 5)
	rand.Read(b)
	name := "fault_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	create := "CREATE DATABASE " + name
	if tablespaceDir != "" {
		if _, err := admin.Exec("CREATE TABLESPACE " + name + " LOCATION '" + tablespaceDir + "'"); err != nil {
			t.Fatal(err)
		}
		create += " TABLESPACE " + name
	}
	if _, err := admin.Exec(create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", c.URL("postgres"))
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		if tablespaceDir != "" {
			if _, err := admin.Exec("DROP TABLESPACE IF EXISTS " + name); err != nil {
				t.Logf("drop tablespace %s: %v", name, err)
			}
		}
	})
	return c.URL(name)
}
