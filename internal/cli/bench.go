package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// benchCmd measures durable intake: it starts `quench serve` as a child on
// a fresh SQLite directory (unless --url names a running server), posts
// Alertmanager webhooks from concurrent senders and reports the rate,
// latency and the server's memory.
func benchCmd(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) > 0 && args[0] == "memory" {
		return benchMemory(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] != "intake" {
		return usageErr("bench intake [--senders 16] [--batches 1,10] [--duration 10s] [--url URL --token T] [--alertmanager URL]\n" +
			"       bench memory [--alerts 1000000] [--batch 10] [--senders 16] [--settle 5s]")
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	senders := fs.Int("senders", 16, "concurrent senders")
	batches := fs.String("batches", "1,10", "alerts per request, one run each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	target := fs.String("url", "", "intake URL of a running Quench (default: start one)")
	token := fs.String("token", "", "integration token for --url")
	am := fs.String("alertmanager", "", "also measure a running Alertmanager's /api/v2/alerts at this base URL")
	sync := fs.String("synchronous", "FULL", "SQLite synchronous pragma of the started server")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(*batches, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n <= 0 || n > 1000 {
			return usageErr("--batches takes positive numbers up to 1000")
		}
		sizes = append(sizes, n)
	}
	var srv *childServer
	if *target == "" {
		var err error
		if srv, err = startChild(ctx, env, *sync); err != nil {
			return err
		}
		defer srv.stop()
		*target, *token = srv.url, srv.token
	}
	fmt.Fprintf(env.Stdout, "%-30s %6s %8s %10s %12s %9s %9s %9s\n", "target", "batch", "senders", "requests", "alerts/s", "p50", "p99", "failed")
	report := func(name string, r *bench.Result) {
		fmt.Fprintf(env.Stdout, "%-30s %6d %8d %10d %12.0f %9s %9s %9d\n", name, r.Options.Batch, r.Options.Senders, r.Requests,
			r.AlertsPerSecond(), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Failed)
		if r.Failed > 0 {
			fmt.Fprintf(env.Stdout, "%-30s statuses: %v\n", "", r.Statuses)
		}
	}
	for i, n := range sizes {
		opt := bench.Options{URL: *target, Token: *token, Format: bench.FormatWebhook, Senders: *senders, Batch: n, Duration: *duration,
			Run: fmt.Sprintf("q%d-%d", i, time.Now().UnixNano())}
		r, err := bench.Run(ctx, opt)
		if err != nil {
			return err
		}
		name := "quench (SQLite " + strings.ToUpper(*sync) + ")"
		if srv == nil {
			name = "quench at --url"
		}
		report(name, r)
		if *am != "" {
			opt.URL, opt.Token, opt.Format = strings.TrimRight(*am, "/")+"/api/v2/alerts", "", bench.FormatAlertmanagerAPI
			r, err := bench.Run(ctx, opt)
			if err != nil {
				return err
			}
			report("alertmanager /api/v2/alerts", r)
		}
	}
	if srv != nil {
		rss, hwm := srv.memory()
		fmt.Fprintf(env.Stdout, "\nserver memory: RSS %s now, %s peak (VmHWM); database %s\n", rss, hwm, srv.dbSize())
	}
	return nil
}

type childServer struct {
	cmd   *exec.Cmd
	dir   string
	url   string
	token string
}

// startChild starts `quench serve` on a fresh SQLite directory with an
// Alertmanager integration; extra adds environment variables.
func startChild(ctx context.Context, env Env, sync string, extra ...string) (*childServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "quench-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Defaults()
	cfg.DataDir, cfg.Addr, cfg.BaseURL, cfg.Synchronous, cfg.LogLevel = dir, addr, "http://"+addr, sync, "error"
	// Create the integration before the server starts; both open the same
	// SQLite file, which is how operators use `quench integration add` too.
	var token, url string
	err = withService(ctx, cfg, Env{Stdout: env.Stdout, Stderr: env.Stderr}, func(svc *service.Service) error {
		tok, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
		token, url = tok, service.IntakeURL(cfg.BaseURL, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = append(os.Environ(), "QUENCH_DATA_DIR="+dir, "QUENCH_ADDR="+addr, "QUENCH_SQLITE_SYNCHRONOUS="+sync,
		"QUENCH_LOG_LEVEL=error", "QUENCH_ADMIN_USER=", "QUENCH_ADMIN_PASSWORD=", "QUENCH_DATABASE_URL=")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stderr = env.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childServer{cmd: cmd, dir: dir, url: url, token: token}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, errors.New("the benchmark server did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *childServer) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(c.dir)
}

// memory reads the child's resident set from /proc (Linux).
func (c *childServer) memory() (rss, hwm string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return "?", "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "VmRSS":
			rss = strings.TrimSpace(v)
		case "VmHWM":
			hwm = strings.TrimSpace(v)
		}
	}
	return rss, hwm
}

func (c *childServer) dbSize() string {
	var total int64
	for _, f := range []string{"quench.db", "quench.db-wal"} {
		if st, err := os.Stat(filepath.Join(c.dir, f)); err == nil {
			total += st.Size()
		}
	}
	return fmt.Sprintf("%.1f MiB", float64(total)/(1<<20))
}
