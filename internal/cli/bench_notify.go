package cli

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// benchNotify measures alert → webhook latency: it starts `quench serve`
// as a child on a fresh SQLite directory (synchronous=FULL) with an
// Alertmanager integration and a webhook channel to a receiver in this
// process, sends critical alerts (each its own group, so each opens its
// own incident) at fixed rates, one per request, and times each from its
// request to its incident.opened webhook. With --alertmanager it measures
// a running Alertmanager the same way: alerts to its /api/v2/alerts, its
// webhook receiver pointed at --alertmanager-receiver, where this process
// listens.
func benchNotify(fs *pflag.FlagSet) runner {
	rates := fs.String("rates", "100,1000", "alerts per second, one run each")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	settle := fs.Duration("settle", 10*time.Second, "after the last alert, wait this long without a new arrival before giving up on the rest")
	am := fs.String("alertmanager", "", "also measure the Alertmanager at this base URL")
	amReceiver := fs.String("alertmanager-receiver", "", "address to receive that Alertmanager's webhooks on, e.g. 127.0.0.1:19095")
	sync := fs.String("synchronous", "FULL", "SQLite synchronous pragma of the started server")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the Quench server to this file")
	amPID := fs.Int("alertmanager-pid", 0, "the Alertmanager's process id, to report its CPU time per alert")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		var rs []int
		for _, s := range strings.Split(*rates, ",") {
			var n int
			if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err != nil || n <= 0 || n > 100000 {
				return usageErr("--rates takes positive numbers")
			}
			rs = append(rs, n)
		}
		if (*am == "") != (*amReceiver == "") {
			return usageErr("--alertmanager and --alertmanager-receiver go together")
		}

		qr, err := bench.NewReceiver("127.0.0.1:0", bench.QuenchIDs)
		if err != nil {
			return err
		}
		defer qr.Close()
		var amr *bench.Receiver
		if *amReceiver != "" {
			if amr, err = bench.NewReceiver(*amReceiver, bench.AlertmanagerIDs); err != nil {
				return fmt.Errorf("listen for Alertmanager's webhooks: %w", err)
			}
			defer amr.Close()
		}

		opt := childOptions{sync: *sync, env: []string{"QUENCH_OUTBOUND_ALLOW=127.0.0.1"}}
		if *cpuprofile != "" {
			opt.args = []string{"bench", "serve", "--cpuprofile", *cpuprofile}
		}
		var intake, intakeToken, adminToken string
		srv, err := startChildWith(ctx, env, opt, func(svc *service.Service, base string) error {
			tok, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "bench"})
			if err != nil {
				return err
			}
			intake, intakeToken = service.IntakeURL(base, in), tok
			if _, err := svc.CreateUser(ctx, service.System, service.NewUser{Username: "bench-admin", Role: auth.RoleAdmin,
				Password: "bench-admin-password"}); err != nil {
				return err
			}
			adminToken, _, err = svc.CreateToken(ctx, service.System, service.NewToken{Username: "bench-admin", Name: "bench",
				Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeWrite, auth.ScopeAdmin}})
			return err
		})
		if err != nil {
			return err
		}
		defer srv.stop()
		// The channel is added through the running server, whose outbound
		// guard lets it reach the loopback receiver.
		c := newClient(config.Config{URL: srv.base, Token: adminToken})
		if err := c.do(ctx, "POST", "/api/v1/channels", map[string]any{"type": "webhook", "name": "bench", "audience": "team",
			"url": qr.URL, "events": []string{"incident.opened"}}, nil); err != nil {
			return fmt.Errorf("add the webhook channel: %w", err)
		}

		client := bench.LatencyClient()
		defer client.CloseIdleConnections()
		quench := bench.QuenchSender(client, intake, intakeToken)
		var alertmanager func(context.Context, string) error
		if *am != "" {
			alertmanager = bench.AlertmanagerSender(client, *am)
		}
		// A short warm-up of each, not reported: connections, caches and the
		// first SQLite pages.
		for _, w := range []struct {
			r    *bench.Receiver
			send func(context.Context, string) error
		}{{qr, quench}, {amr, alertmanager}} {
			if w.send == nil {
				continue
			}
			if _, err := bench.Latency(ctx, w.r, bench.LatencyOptions{Rate: 50, Duration: time.Second, Send: w.send,
				Run: fmt.Sprintf("warm%d", time.Now().UnixNano()), Settle: 5 * time.Second}); err != nil {
				return err
			}
		}

		out := env.Stdout
		fmt.Fprintf(out, "%-8s %-24s %6s %7s %9s %9s %9s %9s %9s %9s %9s %9s\n", "rate", "system", "sent", "refused", "delivered",
			"p50", "p90", "p99", "max", "ack p50", "ack p99", "cpu/alert")
		row := func(rate int, name string, r *bench.LatencyResult, cpu time.Duration) {
			ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
			perAlert := "-"
			if cpu > 0 && r.Sent > 0 {
				perAlert = fmt.Sprintf("%.0fµs", float64(cpu)/float64(r.Sent)/float64(time.Microsecond))
			}
			fmt.Fprintf(out, "%-8s %-24s %6d %7d %9d %9s %9s %9s %9s %9s %9s %9s\n", fmt.Sprintf("%d/s", rate), name, r.Sent, r.Refused, r.Delivered,
				ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), ms(r.AckP50), ms(r.AckP99), perAlert)
			var notes []string
			if r.Duplicates > 0 || r.Unknown > 0 {
				notes = append(notes, fmt.Sprintf("%d duplicate and %d unknown notifications", r.Duplicates, r.Unknown))
			}
			if r.Lag > 50*time.Millisecond {
				notes = append(notes, fmt.Sprintf("the sender fell %s behind its schedule", r.Lag.Round(time.Millisecond)))
			}
			if len(r.Errors) > 0 {
				notes = append(notes, "first errors: "+strings.Join(r.Errors, "; "))
			}
			for _, n := range notes {
				fmt.Fprintf(out, "%-8s %-24s %s\n", "", "", n)
			}
		}
		for _, rate := range rs {
			// pid is the process whose CPU time the run is charged with (0
			// for none): the server's, from the first alert to the last
			// notification.
			run := func(r *bench.Receiver, send func(context.Context, string) error, name string, pid int) (*bench.LatencyResult, error) {
				before := processCPU(pid)
				res, err := bench.Latency(ctx, r, bench.LatencyOptions{Rate: rate, Duration: *duration, Send: send,
					Run: fmt.Sprintf("%s%d-%d", name, rate, time.Now().UnixNano()), Settle: *settle})
				var cpu time.Duration
				if pid != 0 {
					cpu = processCPU(pid) - before
				}
				if err == nil {
					row(rate, map[string]string{"q": "quench (SQLite " + strings.ToUpper(*sync) + ")", "am": "alertmanager"}[name], res, cpu)
				}
				return res, err
			}
			q, err := run(qr, quench, "q", srv.pid())
			if err != nil {
				return err
			}
			if alertmanager == nil {
				continue
			}
			a, err := run(amr, alertmanager, "am", *amPID)
			if err != nil {
				return err
			}
			if a.P99 > 0 && a.P50 > 0 {
				fmt.Fprintf(out, "%-8s %-24s p50 %.2fx, p99 %.2fx Alertmanager's\n", "", "quench / alertmanager",
					float64(q.P50)/float64(a.P50), float64(q.P99)/float64(a.P99))
			}
		}
		rss, hwm := srv.memory()
		fmt.Fprintf(out, "\nquench server memory: RSS %s now, %s peak (VmHWM); database %s\n", mib(rss), mib(hwm), srv.dbSize())
		return nil
	}
}

// benchServe is `quench serve` with a CPU profile written when it stops:
// the benchmarks start it as their child when asked to profile the
// server. It is not for production use.
func benchServe(fs *pflag.FlagSet) runner {
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile (allocations since start included) to this file on exit")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		if *memprofile != "" {
			defer func() {
				if f, err := os.Create(*memprofile); err == nil {
					pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			}()
		}
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		return serve(ctx, cfg, env)
	}
}
