package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/testenv"
)

// Bounds that only catch hangs; nothing here measures speed.
const (
	startDeadline = 60 * time.Second
	stopDeadline  = 60 * time.Second
)

var (
	rootfsOnce sync.Once
	rootfsDir  string // holds rootfs/, the image's root file system
	rootfsErr  error
	tmpRoot    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// repoRoot is the folder with go.mod, the Containerfile and deploy/.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s", dir)
	}
	return dir
}

// imageRoot builds the image's root file system once, with the script the
// Containerfile's build stage runs, and returns the folder holding it as
// rootfs/ (what --build-context build=… gives the final stage). The
// folders are readable by everyone, so an arbitrary UID can run it.
func imageRoot(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	rootfsOnce.Do(func() {
		if tmpRoot, rootfsErr = os.MkdirTemp("", "quench-deploy-"); rootfsErr != nil {
			return
		}
		if rootfsErr = os.Chmod(tmpRoot, 0o755); rootfsErr != nil {
			return
		}
		rootfsDir = filepath.Join(tmpRoot, "context")
		cmd := exec.Command(filepath.Join(root, "scripts", "container-rootfs"), filepath.Join(rootfsDir, "rootfs"), "v0.0.0-deploytest")
		// The script runs go build: the go that runs these tests.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(runtime.GOROOT(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			rootfsErr = fmt.Errorf("scripts/container-rootfs: %v\n%s", err, out)
		}
	})
	if rootfsErr != nil {
		t.Fatal(rootfsErr)
	}
	return rootfsDir
}

// need fails under QUENCH_TEST_REQUIRE_ALL=1 (CI, scripts/test) and skips
// otherwise when a tool the test runs is missing.
func need(t testing.TB, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if testenv.RequireAll() {
		t.Fatal(msg + "; QUENCH_TEST_REQUIRE_ALL=1 forbids skipping (scripts/test installs it)")
	}
	t.Skip(msg)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls url until it answers 200; alive says whether the
// server is still worth waiting for.
func waitHealthy(t testing.TB, url string, alive func() error) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		last = err
		if err := alive(); err != nil {
			t.Fatalf("%s never answered 200 (last: %v): %v", url, last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s (last: %v)", url, startDeadline, last)
}
