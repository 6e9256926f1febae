package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

const benchUsage = "bench intake [--senders 16] [--batches 10] [--duration 10s] [--url URL[,URL…] --token T [--server-pids P,…] [--postgres-pid PID]] [--alertmanager URL [--alertmanager-pid PID]] [--cpuprofile FILE] [--memprofile FILE]\n" +
	"       bench signin [--clients 200] [--duration 10s]\n" +
	"       bench memory [--alerts 1000000] [--batch 10] [--senders 16] [--settle 5s]\n" +
	"       bench notify [--rates 100,1000] [--duration 10s] [--alertmanager URL --alertmanager-receiver ADDR [--alertmanager-pid PID]] [--cpuprofile FILE]\n" +
	"       bench status [--clients 16] [--duration 10s] [--incidents 1000] [--components 50]"

// benchIntake measures durable intake: it starts `quench serve` as a child
// on a fresh SQLite directory (unless --url names a running server), posts
// Alertmanager webhooks from concurrent senders and reports the rate,
// latency and the server's memory.
func benchIntake(fs *pflag.FlagSet) runner {
	senders := fs.Int("senders", 16, "concurrent senders")
	batches := fs.String("batches", "10", "alerts per request, one round of runs each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	target := fs.String("url", "", "intake URL of a running Quench (default: start one); several, comma-separated, spread the senders over replicas")
	token := fs.String("token", "", "integration token for --url")
	am := fs.String("alertmanager", "", "also measure a running Alertmanager's /api/v2/alerts at this base URL")
	amPid := fs.Int("alertmanager-pid", 0, "that Alertmanager's process id, to show its CPU time per alert")
	sync := fs.String("synchronous", "FULL", "SQLite synchronous pragma of the started server")
	serverPids := fs.String("server-pids", "", "process ids of the Quench servers behind --url, comma-separated, to show their CPU time per alert")
	pgPid := fs.Int("postgres-pid", 0, "the PostgreSQL postmaster's process id, to show PostgreSQL's CPU time per 1,000 alerts")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the started Quench server to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile of the started Quench server's allocations to this file")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		var sizes []int
		for _, s := range strings.Split(*batches, ",") {
			var n int
			if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n <= 0 || n > 1000 {
				return usageErr("--batches takes positive numbers up to 1000")
			}
			sizes = append(sizes, n)
		}
		var others []int
		for _, p := range strings.Split(*serverPids, ",") {
			var pid int
			if _, err := fmt.Sscanf(strings.TrimSpace(p), "%d", &pid); err == nil && pid > 0 {
				others = append(others, pid)
			}
		}
		var srv *childServer
		if *target == "" {
			// Create the integration before the server starts; both open the
			// same SQLite file, which is how operators use `quench
			// integration add` too.
			var err error
			opt := childOptions{sync: *sync}
			if *cpuprofile != "" || *memprofile != "" {
				opt.args = []string{"bench", "serve", "--cpuprofile", *cpuprofile, "--memprofile", *memprofile}
			}
			srv, err = startChildWith(ctx, env, opt, func(svc *service.Service, base string) error {
				tok, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
				*target, *token = service.IntakeURL(base, in), tok
				return err
			})
			if err != nil {
				return err
			}
			defer srv.stop()
		}
		fmt.Fprintf(env.Stdout, "%-30s %6s %8s %10s %12s %9s %9s %9s %12s %12s\n", "target", "batch", "senders", "requests", "alerts/s", "p50", "p99", "failed", "CPU/alert",
			"PG CPU/1k")
		// run measures one row; the server's CPU time per alert is shown for
		// the started server and an Alertmanager whose pid is given, a figure
		// the other tenants of a shared machine disturb less than the rate.
		run := func(name string, opt bench.Options, pid int) (*bench.Result, error) {
			quench := !strings.HasPrefix(name, "alertmanager")
			serversCPU := func() time.Duration {
				if pid > 0 || len(others) == 0 || !quench {
					return processCPU(pid)
				}
				var sum time.Duration
				for _, p := range others {
					sum += processCPU(p)
				}
				return sum
			}
			before, pgBefore := serversCPU(), processTreeCPU(*pgPid)
			r, err := bench.Run(ctx, opt)
			if err != nil {
				return nil, err
			}
			cpu, pgCPU := "-", "-"
			if (pid > 0 || (quench && len(others) > 0)) && r.Alerts > 0 {
				cpu = (time.Duration(serversCPU()-before) / time.Duration(r.Alerts)).Round(100 * time.Nanosecond).String()
			}
			if *pgPid > 0 && r.Alerts > 0 && quench {
				pgCPU = fmt.Sprintf("%.3fs", (processTreeCPU(*pgPid)-pgBefore).Seconds()*1000/float64(r.Alerts))
			}
			fmt.Fprintf(env.Stdout, "%-30s %6d %8d %10d %12.0f %9s %9s %9d %12s %12s\n", name, r.Options.Batch, r.Options.Senders, r.Requests,
				r.AlertsPerSecond(), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Failed, cpu, pgCPU)
			if r.Failed > 0 {
				fmt.Fprintf(env.Stdout, "%-30s statuses: %v\n", "", r.Statuses)
			}
			return r, nil
		}
		for i, n := range sizes {
			// Three rows: new warnings into the inbox, a storm of new
			// critical alerts joining one open incident, and the same
			// warnings into Alertmanager's memory.
			urls := strings.Split(*target, ",")
			opt := bench.Options{URL: urls[0], URLs: urls, Token: *token, Format: bench.FormatWebhook, Senders: *senders, Batch: n, Duration: *duration,
				Run: fmt.Sprintf("q%d-%d", i, time.Now().UnixNano())}
			name := "quench (SQLite " + strings.ToUpper(*sync) + ")"
			if srv == nil {
				name = "quench at --url"
				if len(urls) > 1 {
					name = fmt.Sprintf("quench, %d replicas", len(urls))
				}
			}
			inbox, err := run(name+" inbox", opt, srv.pid())
			if err != nil {
				return err
			}
			storm := opt
			storm.Scenario, storm.Run = bench.ScenarioStorm, opt.Run+"-storm"
			rs, err := run(name+" storm", storm, srv.pid())
			if err != nil {
				return err
			}
			ratios := fmt.Sprintf("storm/inbox %.2f×", rs.AlertsPerSecond()/inbox.AlertsPerSecond())
			if *am != "" {
				opt.URL, opt.URLs, opt.Token, opt.Format = strings.TrimRight(*am, "/")+"/api/v2/alerts", nil, "", bench.FormatAlertmanagerAPI
				r, err := run("alertmanager /api/v2/alerts", opt, *amPid)
				if err != nil {
					return err
				}
				ratios = fmt.Sprintf("inbox/alertmanager %.2f×, %s", inbox.AlertsPerSecond()/r.AlertsPerSecond(), ratios)
			}
			fmt.Fprintf(env.Stdout, "%-30s %s\n", "", ratios)
		}
		if srv != nil {
			rss, hwm := srv.memory()
			fmt.Fprintf(env.Stdout, "\nserver memory: RSS %s now, %s peak (VmHWM); database %s\n", mib(rss), mib(hwm), srv.dbSize())
		}
		return nil
	}
}

// benchSignIn measures the memory of a server under a flood of anonymous
// sign-in attempts: idle after start, idle after its first password hash
// (a real sign-in), the peak under Clients concurrent attempts for user
// names that do not exist, and idle again after the flood; and how many
// attempts were turned away with a 503 by the bound on password hashing.
func benchSignIn(fs *pflag.FlagSet) runner {
	clients := fs.Int("clients", 200, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "length of the flood")
	settle := fs.Duration("settle", 3*time.Second, "quiet time before each idle reading")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		const user, password = "bench-admin", "bench-admin-password"
		srv, err := startChild(ctx, env, "FULL", func(svc *service.Service, _ string) error {
			_, err := svc.CreateUser(ctx, service.System, service.NewUser{Username: user, Role: auth.RoleAdmin, Password: password})
			return err
		})
		if err != nil {
			return err
		}
		defer srv.stop()
		idle := func() int64 {
			time.Sleep(*settle)
			rss, _ := srv.memory()
			return rss
		}
		started := idle()
		status, err := signInOnce(ctx, srv.base, user, password)
		if err != nil || status != http.StatusSeeOther {
			return fmt.Errorf("sign in as %s: status %d, %v", user, status, err)
		}
		hashed := idle()
		var peak int64
		sampleCtx, stopSampling := context.WithCancel(ctx)
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for sampleCtx.Err() == nil {
				if rss, _ := srv.memory(); rss > peak {
					peak = rss
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		r, err := bench.SignIn(ctx, bench.SignInOptions{URL: srv.base, Clients: *clients, Duration: *duration})
		stopSampling()
		<-sampled
		if err != nil {
			return err
		}
		_, hwm := srv.memory()
		after := idle()
		fmt.Fprintf(env.Stdout, "sign-in flood: %d clients for %s, every attempt from its own loopback address, unknown user names\n",
			*clients, r.Elapsed.Round(time.Millisecond))
		fmt.Fprintf(env.Stdout, "  attempts           %d (%.0f/s), p50 %s, p99 %s, no answer %d\n", r.Requests,
			float64(r.Requests)/r.Elapsed.Seconds(), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Errors)
		fmt.Fprintf(env.Stdout, "  answers            401 wrong: %.1f%%, 503 busy: %.1f%%, 429 throttled: %.1f%%, other: %v\n",
			100*r.Share(http.StatusUnauthorized), 100*r.Share(http.StatusServiceUnavailable), 100*r.Share(http.StatusTooManyRequests), others(r.Statuses))
		fmt.Fprintf(env.Stdout, "server RSS\n")
		fmt.Fprintf(env.Stdout, "  idle after start       %s\n", mib(started))
		fmt.Fprintf(env.Stdout, "  idle after first hash  %s\n", mib(hashed))
		fmt.Fprintf(env.Stdout, "  peak under load        %s (sampled VmRSS), %s (VmHWM)\n", mib(peak), mib(hwm))
		fmt.Fprintf(env.Stdout, "  idle after the flood   %s\n", mib(after))
		return nil
	}
}

// others lists the statuses that are not a sign-in's usual answers.
func others(statuses map[int]int) map[int]int {
	out := map[int]int{}
	for k, v := range statuses {
		switch k {
		case http.StatusUnauthorized, http.StatusServiceUnavailable, http.StatusTooManyRequests:
		default:
			out[k] = v
		}
	}
	return out
}

func signInOnce(ctx context.Context, base, user, password string) (int, error) {
	form := url.Values{"username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func mib(kb int64) string {
	if kb < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

type childServer struct {
	cmd  *exec.Cmd
	dir  string
	base string
}

// startChild starts `quench serve` on a fresh SQLite directory after
// prepare has set up the database (users, integrations) with base, the
// server's URL.
func startChild(ctx context.Context, env Env, sync string, prepare func(svc *service.Service, base string) error) (*childServer, error) {
	return startChildWith(ctx, env, childOptions{sync: sync}, prepare)
}

// childOptions adjust the child: extra environment, and the command that
// runs the server ("serve" unless args says otherwise, e.g. the profiled
// `bench serve`).
type childOptions struct {
	sync string
	env  []string
	args []string
}

func startChildWith(ctx context.Context, env Env, opt childOptions, prepare func(svc *service.Service, base string) error) (*childServer, error) {
	sync := opt.sync
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
	// Set up the database before the server starts; both open the same
	// SQLite file, which is how operators use `quench migrate` and
	// `quench integration add` too.
	if err := migrate(ctx, cfg, Env{Stdout: io.Discard, Stderr: env.Stderr}); err != nil {
		return nil, err
	}
	err = withService(ctx, cfg, Env{Stdout: env.Stdout, Stderr: env.Stderr}, func(svc *service.Service) error {
		return prepare(svc, cfg.BaseURL)
	})
	if err != nil {
		return nil, err
	}
	args := opt.args
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "QUENCH_DATA_DIR="+dir, "QUENCH_ADDR="+addr, "QUENCH_SQLITE_SYNCHRONOUS="+sync,
		"QUENCH_LOG_LEVEL=error", "QUENCH_ADMIN_USER=", "QUENCH_ADMIN_PASSWORD=", "QUENCH_DATABASE_URL=")
	cmd.Env = append(cmd.Env, opt.env...)
	cmd.Stderr = env.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childServer{cmd: cmd, dir: dir, base: cfg.BaseURL}
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

// pid is the child's process id, 0 for none.
func (c *childServer) pid() int {
	if c == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// processCPU is the time a process has spent on the CPUs, from /proc
// (Linux); 0 when unknown.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses: utime and stime are
	// the 12th and 13th, in clock ticks (100 per second on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var user, sys int64
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &sys)
	return time.Duration(user+sys) * (time.Second / 100)
}

// processTreeCPU is the CPU time of a process and its children, live and
// reaped: for PostgreSQL, the postmaster and its backends, including
// those whose connection closed. 0 for pid 0.
func processTreeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 15 {
		return 0
	}
	// cutime and cstime (14th and 15th after the name): reaped children.
	var cu, cs int64
	fmt.Sscan(f[13], &cu)
	fmt.Sscan(f[14], &cs)
	total := processCPU(pid) + time.Duration(cu+cs)*(time.Second/100)
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		var child int
		fmt.Sscan(k, &child)
		total += processCPU(child)
	}
	return total
}

// memory reads the child's resident set and its peak from /proc (Linux),
// in KiB; -1 when unknown.
func (c *childServer) memory() (rss, hwm int64) {
	rss, hwm = -1, -1
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return rss, hwm
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		var n int64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &n); err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
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
