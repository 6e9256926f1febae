package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/bench"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/service"
)

// benchStatus measures the status page under load: it starts `quench
// serve` as a child on a fresh SQLite directory holding the status page's
// benchmark world (bench.StatusWorld: 50 components, 1,000 published
// incidents of the last 90 days), then has concurrent clients on
// keep-alive connections ask for /status and /status.json, first with
// the ETag of the current page (every answer a 304), then without (a 200
// with the whole page each time).
func benchStatus(fs *pflag.FlagSet) runner {
	clients := fs.Int("clients", 16, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "length of each run")
	incidents := fs.Int("incidents", 1000, "published incidents")
	components := fs.Int("components", 50, "components")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		srv, err := startChild(ctx, env, "FULL", func(svc *service.Service, _ string) error {
			return bench.StatusWorld(ctx, svc.Store(), svc.Now(), *components, *incidents)
		})
		if err != nil {
			return err
		}
		defer srv.stop()
		fmt.Fprintf(env.Stdout, "status page: %d components, %d published incidents (and as many unpublished), %d clients, %s per run\n",
			*components, *incidents, *clients, *duration)
		for _, conditional := range []bool{true, false} {
			for _, path := range []string{"/status", "/status.json"} {
				r, err := bench.Status(ctx, bench.StatusOptions{URL: srv.base + path, Clients: *clients, Duration: *duration, Conditional: conditional})
				if err != nil {
					return err
				}
				want, kind := http.StatusOK, "200"
				if conditional {
					want, kind = http.StatusNotModified, "304"
				}
				fmt.Fprintf(env.Stdout, "  %-12s %s  %8.0f req/s  p50 %-9s p99 %-9s %s %d of %d, errors %d, %.1f MiB/s\n", path, kind,
					r.PerSecond(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), kind, r.Statuses[want], r.Requests, r.Errors,
					float64(r.Bytes)/r.Elapsed.Seconds()/(1<<20))
			}
		}
		rss, hwm := srv.memory()
		fmt.Fprintf(env.Stdout, "server RSS %s, peak %s\n", mib(rss), mib(hwm))
		return nil
	}
}
