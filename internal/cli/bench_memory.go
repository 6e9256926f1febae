package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/bench"
)

// benchMemory measures the resident memory of `quench serve` children:
// idle on a fresh database, idle after the first admin's password hash,
// and the growth per stored alert over a large ingest of new alerts (the
// inbox path: warnings, each with a label set never sent before). Figures
// come from /proc/PID/status: VmRSS (now) and VmHWM (peak).
func benchMemory(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("bench memory", flag.ContinueOnError)
	alerts := fs.Int("alerts", 1_000_000, "alerts to ingest")
	batch := fs.Int("batch", 10, "alerts per webhook")
	senders := fs.Int("senders", 16, "concurrent senders")
	settle := fs.Duration("settle", 5*time.Second, "idle time before an idle sample")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *alerts <= 0 || *batch <= 0 || *batch > 1000 || *senders <= 0 {
		return usageErr("--alerts, --senders and --batch (up to 1000) must be positive")
	}
	out := env.Stdout
	fmt.Fprintf(out, "%-44s %10s %10s\n", "quench serve (SQLite, synchronous=FULL)", "VmRSS", "VmHWM")
	row := func(what string, m procMemory) {
		fmt.Fprintf(out, "%-44s %10s %10s\n", what, mib(m.rss), mib(m.hwm))
	}
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*settle):
			return nil
		}
	}

	// The admin's password is hashed when the server creates the admin at
	// boot, as on a first start with QUENCH_ADMIN_USER.
	adm, err := startChild(ctx, env, "FULL", "QUENCH_ADMIN_USER=bench-admin", "QUENCH_ADMIN_PASSWORD="+auth.NewSecret("")[:24])
	if err != nil {
		return err
	}
	if err := wait(); err != nil {
		adm.stop()
		return err
	}
	admin := adm.procMemory()
	adm.stop()

	srv, err := startChild(ctx, env, "FULL")
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := wait(); err != nil {
		return err
	}
	before := srv.procMemory()
	row("idle, fresh", before)
	row("idle, after the admin's password hash", admin)

	start := time.Now()
	res, err := bench.Run(ctx, bench.Options{URL: srv.url, Token: srv.token, Format: bench.FormatWebhook, Senders: *senders,
		Batch: *batch, Requests: (*alerts + *batch - 1) / *batch, Run: fmt.Sprintf("mem%d", time.Now().UnixNano())})
	if err != nil {
		return err
	}
	took := time.Since(start)
	after := srv.procMemory()
	if err := wait(); err != nil {
		return err
	}
	settled := srv.procMemory()
	stored := res.Alerts
	row(fmt.Sprintf("after %d alerts stored", stored), after)
	row(fmt.Sprintf("after %d alerts, idle %s", stored, *settle), settled)
	if res.Failed > 0 {
		fmt.Fprintf(out, "failed requests: %d %v\n", res.Failed, res.Statuses)
	}
	if stored == 0 {
		return fmt.Errorf("no alert was stored")
	}
	perAlert := func(m procMemory) string {
		return fmt.Sprintf("%.3f KiB", float64(m.rss-before.rss)/float64(stored))
	}
	fmt.Fprintf(out, "\ningested %d alerts in %d-alert webhooks from %d senders in %s (%.0f alerts/s); database %s\n",
		stored, *batch, *senders, took.Round(100*time.Millisecond), float64(stored)/took.Seconds(), srv.dbSize())
	fmt.Fprintf(out, "RSS growth per stored alert: %s right after, %s after %s idle (peak %s)\n",
		perAlert(after), perAlert(settled), *settle, mib(settled.hwm))
	return nil
}

// procMemory is a process's resident set from /proc, in KiB.
type procMemory struct{ rss, hwm int64 }

func (c *childServer) procMemory() procMemory {
	var m procMemory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			m.rss = n
		case "VmHWM":
			m.hwm = n
		}
	}
	return m
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
