package fault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/testenv"
)

// A full disk under the data folder: intake and writes answer 503 with
// Retry-After (never a 500, never a 2xx that was not committed), reads and
// pages keep working, /readyz says "storage full", nothing is
// half-written, and once space is freed everything works again in the
// same process.
func TestDiskFull(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		mnt := mountTmpfs(t, "64m")
		runDiskFull(t, sqliteAt(filepath.Join(mnt, "data")), mnt)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := privateCluster(t)
		mnt := mountTmpfs(t, "64m")
		runDiskFull(t, postgresAt(pg.databaseOn(t, mnt)), mnt)
	})
}

func runDiskFull(t *testing.T, db database, mnt string) {
	in := setup(t, db)
	s := in.start(t)
	l := newLedger(fmt.Sprintf("full%d", time.Now().UnixNano()%1e6))
	c := newClient(4)

	// Some history first, so there is something to read.
	ld := in.startLoad(l, s, 2, 1)
	time.Sleep(300 * time.Millisecond)
	ld.stop()
	refused := 0
	for cycle := 1; cycle <= pick(1, 3); cycle++ {
		refused += diskFullCycle(t, in, s, l, c, mnt, cycle)
	}
	in.verify(t, l)
	l.checkUnexpected(t)
	s.checkLog(t)
	if !strings.Contains(readFile(s.logPath), "storage is full") {
		t.Errorf("the log never names the cause (storage is full)")
	}

	// A fresh process finds the same, sound database.
	s.kill(t)
	in.start(t)
	in.verify(t, l)
	t.Logf("%d deliveries refused while full, all accepted when resent; %s", refused, l.summary())
}

// diskFullCycle fills the disk under a running server, checks how it
// answers, frees the space and checks that it recovers by itself. It
// returns how many deliveries were refused and accepted when resent.
func diskFullCycle(t *testing.T, in *instance, s *server, l *ledger, c *http.Client, mnt string, cycle int) int {
	t.Helper()
	ctx := context.Background()
	filler := fillUp(t, mnt)
	full := l.fullCount()

	// Writes meet the full disk: keep the load on until intake has been
	// refused for lack of space a few times.
	ld := in.startLoad(l, s, 2, 1)
	waitUntil(t, "intake answers 503 storage_full", func() bool { return l.fullCount() >= full+5 })
	ld.stop()
	waitUntil(t, "/readyz reports storage full", func() bool {
		r := do(ctx, c, "GET", s.url+"/readyz", "", nil)
		return r.status == http.StatusServiceUnavailable && strings.Contains(string(r.body), "storage full")
	})

	// Other writes: refused the same way, or (where a write still fits,
	// as a row in a half-empty PostgreSQL page does) committed; never a
	// 500, never a 2xx without commit.
	r := do(ctx, c, "POST", s.url+"/api/v1/incidents", in.apiToken, []byte(`{"title": "opened on a full disk", "severity": "minor"}`))
	l.trackIncident(t, r)
	outcomes := []int{r.status}
	marker := fmt.Sprintf("update %s posted on a full disk, cycle %d", l.run, cycle)
	r = do(ctx, c, "POST", s.url+"/api/v1/incidents/1/updates", in.apiToken, []byte(`{"body": "`+marker+`", "visibility": "internal"}`))
	l.record("post update", r, http.StatusCreated)
	if r.status == http.StatusCreated {
		l.mu.Lock()
		l.updates[marker] = 1
		l.mu.Unlock()
	}
	outcomes = append(outcomes, r.status)
	t.Logf("cycle %d: writes on a full disk answered %v", cycle, outcomes)
	// Reads and pages work.
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/1", "/api/v1/incidents/1/timeline",
		"/api/v1/alerts?limit=20", "/", "/incidents", "/incidents/1", "/alerts", "/healthz"} {
		if r := do(ctx, c, "GET", s.url+path, in.apiToken, nil); r.status != http.StatusOK {
			t.Errorf("GET %s on a full disk: %d %s", path, r.status, r.body)
		}
	}

	// Space comes back: the same process recovers by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "/readyz ready again", func() bool {
		return do(ctx, c, "GET", s.url+"/readyz", "", nil).status == http.StatusOK
	})
	refused := l.unacked()
	for _, d := range refused {
		if r := l.resend(ctx, c, in, s, d); r.status != http.StatusOK {
			t.Errorf("delivery %s resent after space was freed: %d %s", d.id, r.status, r.body)
		}
	}
	r = do(ctx, c, "POST", s.url+"/api/v1/incidents", in.apiToken, []byte(`{"title": "after the disk was full", "severity": "minor"}`))
	if r.status != http.StatusCreated {
		t.Errorf("open incident after space was freed: %d %s", r.status, r.body)
	}
	l.trackIncident(t, r)
	ld = in.startLoad(l, s, 2, 1)
	time.Sleep(300 * time.Millisecond)
	ld.stop()
	if s.exited() {
		t.Fatalf("the server exited: %v", s.waitErr)
	}
	return len(refused)
}

// waitUntil polls cond until it holds; the deadline only catches a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountTmpfs mounts a tmpfs of the given size on a fresh directory and
// unmounts it at cleanup, after the processes using it are gone.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	// Not under t.TempDir: PostgreSQL's user must reach a tablespace here.
	dir, err := os.MkdirTemp("", "quench-fault-tmpfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("the disk-full test mounts a small tmpfs and cannot here (it needs root or CAP_SYS_ADMIN): mount: %v: %s",
			err, strings.TrimSpace(string(out)))
		if testenv.RequireAll() {
			t.Fatal(msg + "; QUENCH_TEST_REQUIRE_ALL=1 forbids skipping")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		// What used the mount may still be closing its files for a
		// moment (a killed server's PostgreSQL sessions end on their
		// own); what holds it for 10 s is a leak, named in the failure.
		var out []byte
		var err error
		for range 50 {
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		holders, _ := exec.Command("fuser", "-vm", dir).CombinedOutput()
		t.Errorf("umount %s: %v: %s; processes using it (fuser -vm): %s", dir, err, out, holders)
		exec.Command("umount", "-l", dir).Run()
	})
	return dir
}

// fillUp writes a file until the file system has no space left and
// returns its path.
func fillUp(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 4 << 10, 512} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	return path
}
