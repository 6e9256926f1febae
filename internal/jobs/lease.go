package jobs

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/quenchhq/quench/internal/service"
)

// Leases run periodic jobs on one replica at a time. Every replica runs
// the same loops; at each tick a loop claims its job's lease in the
// database (the job_leases table) and does the work only while it holds
// it. The holder renews the lease at every tick, so the job stays where
// it is; when the holder dies its lease runs out and the next replica to
// tick takes the job over; a replica that stops cleanly gives its leases
// up at once.
//
// A lease saves work, it does not make work safe: the work itself must
// still be safe to run twice (a claimed row, an insert that only the
// first may make, a guarded update), because a holder can stall past its
// lease (a long pause of the process) while another takes over. Each run
// gets a context that ends when the lease would run out, so a run does
// not knowingly go on past it.
//
// To run a new job on one replica, e.g. heartbeat deadlines every five
// seconds:
//
//	go leases.Run(ctx, "heartbeats", 5*time.Second, func(ctx context.Context) error {
//		return svc.CheckHeartbeats(ctx)
//	})
type Leases struct {
	svc    *service.Service
	log    *slog.Logger
	holder string
}

// NewLeases returns the leases of this process, named by host, process
// and a random suffix.
func NewLeases(svc *service.Service, log *slog.Logger) *Leases {
	host, _ := os.Hostname()
	return &Leases{svc: svc, log: log, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])}
}

// leaseTTL is how long a claim of a job that runs every interval holds:
// two intervals, so a holder that ticks late keeps it, and at least 30 s.
func leaseTTL(every time.Duration) time.Duration { return max(2*every, 30*time.Second) }

// Run claims the lease name at once and then every interval until ctx
// ends, and runs fn whenever this replica holds it. On the way out it
// gives the lease up.
func (l *Leases) Run(ctx context.Context, name string, every time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	held := false
	defer func() {
		if held {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := l.svc.ReleaseLease(rctx, name, l.holder); err != nil {
				l.log.Warn("job lease not released", "job", name, "err", err)
			}
		}
	}()
	for {
		ttl := leaseTTL(every)
		start := time.Now()
		ok, err := l.svc.ClaimLease(ctx, name, l.holder, ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Warn("job lease not claimed", "job", name, "err", err)
		case ok:
			if !held {
				l.log.Info("job runs on this replica", "job", name)
			}
			held = true
			// The lease was taken at about start; the run ends before
			// it runs out, with a second to spare for clock skew.
			rctx, cancel := context.WithDeadline(ctx, start.Add(ttl-time.Second))
			if err := fn(rctx); err != nil && ctx.Err() == nil {
				l.log.Warn("job failed", "job", name, "err", err)
			}
			cancel()
		default:
			held = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
