package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// benchMemory measures the resident memory of a `quench serve` child:
// idle on a fresh database, idle after the first admin's password hash (a
// real sign-in), and the growth per stored alert over a large ingest of
// new alerts (the inbox path: warnings, each with a label set never sent
// before). Figures come from /proc/PID/status: VmRSS (now) and VmHWM
// (peak).
func benchMemory(fs *pflag.FlagSet) runner {
	alerts := fs.Int("alerts", 1_000_000, "alerts to ingest")
	batch := fs.Int("batch", 10, "alerts per webhook")
	senders := fs.Int("senders", 16, "concurrent senders")
	settle := fs.Duration("settle", 5*time.Second, "quiet time before each idle reading")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		if *alerts <= 0 || *batch <= 0 || *batch > 1000 || *senders <= 0 {
			return usageErr("--alerts, --senders and --batch (up to 1000) must be positive")
		}
		const user, password = "bench-admin", "bench-admin-password"
		var target, token string
		srv, err := startChild(ctx, env, "FULL", func(svc *service.Service, base string) error {
			if _, err := svc.CreateUser(ctx, service.System, service.NewUser{Username: user, Role: auth.RoleAdmin, Password: password}); err != nil {
				return err
			}
			tok, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
			target, token = service.IntakeURL(base, in), tok
			return err
		})
		if err != nil {
			return err
		}
		defer srv.stop()
		type reading struct{ rss, hwm int64 }
		idle := func() (reading, error) {
			select {
			case <-ctx.Done():
				return reading{}, ctx.Err()
			case <-time.After(*settle):
			}
			rss, hwm := srv.memory()
			return reading{rss, hwm}, nil
		}
		out := env.Stdout
		row := func(what string, r reading) {
			fmt.Fprintf(out, "  %-40s %10s %10s\n", what, mib(r.rss), mib(r.hwm))
		}
		fmt.Fprintf(out, "quench serve, SQLite synchronous=FULL      %10s %10s\n", "VmRSS", "VmHWM")

		fresh, err := idle()
		if err != nil {
			return err
		}
		row("idle, fresh", fresh)
		if status, err := signInOnce(ctx, srv.base, user, password); err != nil || status != http.StatusSeeOther {
			return fmt.Errorf("sign in as %s: status %d, %v", user, status, err)
		}
		hashed, err := idle()
		if err != nil {
			return err
		}
		row("idle, after the admin's password hash", hashed)

		start := time.Now()
		res, err := bench.Run(ctx, bench.Options{URL: target, Token: token, Format: bench.FormatWebhook, Senders: *senders,
			Batch: *batch, Requests: (*alerts + *batch - 1) / *batch, Run: fmt.Sprintf("mem%d", time.Now().UnixNano())})
		if err != nil {
			return err
		}
		took := time.Since(start)
		rss, hwm := srv.memory()
		after := reading{rss, hwm}
		settled, err := idle()
		if err != nil {
			return err
		}
		stored := res.Alerts
		row(fmt.Sprintf("after %d alerts stored", stored), after)
		row(fmt.Sprintf("after %d alerts, idle %s", stored, *settle), settled)
		if res.Failed > 0 {
			fmt.Fprintf(out, "failed requests: %d %v\n", res.Failed, res.Statuses)
		}
		if stored == 0 {
			return fmt.Errorf("no alert was stored")
		}
		perAlert := func(r reading) string {
			return fmt.Sprintf("%.3f KiB", float64(r.rss-hashed.rss)/float64(stored))
		}
		fmt.Fprintf(out, "\ningested %d alerts in %d-alert webhooks from %d senders in %s (%.0f alerts/s); database %s\n",
			stored, *batch, *senders, took.Round(100*time.Millisecond), float64(stored)/took.Seconds(), srv.dbSize())
		fmt.Fprintf(out, "RSS growth per stored alert: %s right after, %s after %s idle\n", perAlert(after), perAlert(settled), *settle)
		return nil
	}
}
