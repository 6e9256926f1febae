package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// HeartbeatKeyPrefix marks the key in a heartbeat's ping URL.
const HeartbeatKeyPrefix = "hb_"

// NewHeartbeat is what an admin supplies for a heartbeat. Period and Grace
// are durations such as "10m", "1h" or "1d"; an empty Grace takes the
// default.
type NewHeartbeat struct {
	Name   string
	Period string
	Grace  string
	Labels map[string]string
}

// HeartbeatURL is where a heartbeat's job pings; "/start" and "/fail"
// after it report a run's start and its failure.
func HeartbeatURL(baseURL, key string) string { return baseURL + "/api/v1/ping/" + key }

// HeartbeatSnippet is crontab lines using a heartbeat's ping URL. Each
// entry is one line however long: crontab has no line continuation, so a
// "\" split would break the entry when pasted.
func HeartbeatSnippet(url string) string {
	return fmt.Sprintf(`# crontab: ping when the job succeeds
0 3 * * * /usr/local/bin/backup && curl -fsS -m 10 --retry 5 -o /dev/null %s

# or report the start, the end and a failure with the end of its log
0 3 * * * curl -fsS -m 10 -o /dev/null %s/start; /usr/local/bin/backup > /tmp/backup.log 2>&1 && curl -fsS -m 10 --retry 5 -o /dev/null %s || tail -c 8192 /tmp/backup.log | curl -fsS -m 10 --retry 5 -o /dev/null --data-binary @- %s/fail
`, url, url, url, url)
}

// CreateHeartbeat adds a heartbeat and returns the key of its ping URL,
// shown only now: Quench keeps its hash.
func (s *Service) CreateHeartbeat(ctx context.Context, p auth.Principal, n NewHeartbeat) (string, *heartbeat.Heartbeat, error) {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return "", nil, err
	}
	name := text.Line(n.Name, 100)
	if name == "" {
		return "", nil, problem.Unprocessablef("name is required")
	}
	period, err := heartbeat.ParseDuration(n.Period)
	if err != nil {
		return "", nil, problem.Unprocessablef("period: %v", err)
	}
	grace := heartbeat.DefaultGrace
	if strings.TrimSpace(n.Grace) != "" {
		if grace, err = heartbeat.ParseDuration(n.Grace); err != nil {
			return "", nil, problem.Unprocessablef("grace: %v", err)
		}
	}
	if err := heartbeat.CheckSchedule(period, grace); err != nil {
		return "", nil, problem.Unprocessablef("%v", err)
	}
	if err := heartbeat.CheckLabels(n.Labels); err != nil {
		return "", nil, problem.Unprocessablef("labels: %v", err)
	}
	key := auth.NewSecret(HeartbeatKeyPrefix)
	h := heartbeat.New(strings.ToLower(auth.NewSecret("")[:12]), name, period, grace, n.Labels, p.Name(), s.Now())
	h.SecretHash = auth.HashToken(key)
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertHeartbeat(ctx, h); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "heartbeat_created", h.Name, map[string]any{"heartbeat": h.ID,
			"period": heartbeat.Format(period), "grace": heartbeat.Format(grace)})
	})
	if err != nil {
		return "", nil, err
	}
	s.log.Info("heartbeat created", "heartbeat", h.ID, "by", p.Name())
	return key, h, nil
}

// Heartbeats lists live heartbeats.
func (s *Service) Heartbeats(ctx context.Context, p auth.Principal) ([]*heartbeat.Heartbeat, error) {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return nil, err
	}
	var out []*heartbeat.Heartbeat
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Heartbeats(ctx); return err })
	return out, err
}

// Heartbeat reads one live heartbeat by id or name.
func (s *Service) Heartbeat(ctx context.Context, p auth.Principal, idOrName string) (*heartbeat.Heartbeat, error) {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return nil, err
	}
	var h *heartbeat.Heartbeat
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { h, err = tx.Heartbeat(ctx, idOrName); return err })
	return h, missing(err, "heartbeat %s not found", idOrName)
}

// DeleteHeartbeat retires a heartbeat (by id or name): its ping URL stops
// working, and its alert, if firing, resolves.
func (s *Service) DeleteHeartbeat(ctx context.Context, p auth.Principal, idOrName string) error {
	if err := require(p, auth.Administer, "manage heartbeats"); err != nil {
		return err
	}
	var changed map[int64]bool
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		changed = nil
		h, err := tx.LockHeartbeat(ctx, idOrName)
		if err != nil {
			return err
		}
		now := s.Now()
		if err := tx.DeleteHeartbeat(ctx, h.ID, now); err != nil {
			return err
		}
		if h.State == heartbeat.Down {
			if changed, err = s.heartbeatAlert(ctx, tx, h.Alert(alert.Resolved, h.Failed(), now)); err != nil {
				return err
			}
		}
		return s.auditBy(ctx, tx, p, "heartbeat_deleted", h.Name, map[string]any{"heartbeat": h.ID})
	})
	if err != nil {
		return missing(err, "heartbeat %s not found", idOrName)
	}
	s.publishAlerts(changed, nil)
	return nil
}

// errNoHeartbeat answers a ping whose key is unknown: nothing is stored.
var errNoHeartbeat = problem.New(problem.NotFound, "not_found", "no such heartbeat")

// PingHeartbeat records a ping of kind k from the job holding key, the
// secret in the ping URL; log is the end of a failed run's output. A
// failure fires the heartbeat's alert at once, and a success after a
// miss or a failure resolves it. It needs no account: the key is the
// credential.
func (s *Service) PingHeartbeat(ctx context.Context, key string, k heartbeat.Kind, log string) (*heartbeat.Heartbeat, error) {
	if !strings.HasPrefix(key, HeartbeatKeyPrefix) || len(key) > 200 {
		return nil, errNoHeartbeat
	}
	hash := auth.HashToken(key)
	var h *heartbeat.Heartbeat
	var changed map[int64]bool
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		changed = nil
		if h, err = tx.LockHeartbeatBySecret(ctx, hash); err != nil {
			return err
		}
		now := s.Now()
		before := *h
		switch h.Ping(k, log, now) {
		case heartbeat.Fire:
			changed, err = s.heartbeatAlert(ctx, tx, h.Alert(alert.Firing, true, now))
		case heartbeat.Resolve:
			// The alert that fired, resolved: same labels, same start.
			changed, err = s.heartbeatAlert(ctx, tx, before.Alert(alert.Resolved, before.Failed(), now))
		}
		if err != nil {
			return err
		}
		return tx.SaveHeartbeatPing(ctx, h)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoHeartbeat
	}
	if err != nil {
		return nil, err
	}
	s.publishAlerts(changed, nil)
	return h, nil
}

// heartbeatAlert sends a heartbeat's alert through the intake path, in
// tx, from the built-in heartbeat integration: the rules route it like
// any other.
func (s *Service) heartbeatAlert(ctx context.Context, tx *store.Tx, one alert.Alert) (map[int64]bool, error) {
	a := []alert.Alert{one}
	_, changed, err := s.ingestTx(ctx, tx, heartbeat.Integration, Delivery{}, a, encodeAll(a))
	if errors.Is(err, store.ErrNotFound) {
		// The integration is created by migration 10; without it, say so
		// rather than "not found".
		return nil, fmt.Errorf("the built-in heartbeat integration is missing: %w", err)
	}
	return changed, err
}

// maxMissesPerCheck bounds the heartbeats one check fires; the next
// check takes the rest.
const maxMissesPerCheck = 100

// CheckHeartbeats fires the alert of every heartbeat whose deadline has
// passed and returns how many it fired. Each miss is claimed in the
// transaction that fires its alert (an UPDATE guarded by the state and
// the deadline), so replicas checking at once never fire one miss twice,
// and a ping committed first wins.
func (s *Service) CheckHeartbeats(ctx context.Context) (int, error) {
	var due []string
	now := s.Now()
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { due, err = tx.DueHeartbeats(ctx, now, maxMissesPerCheck); return err })
	if err != nil {
		return 0, err
	}
	fired := 0
	for _, id := range due {
		var changed map[int64]bool
		var h *heartbeat.Heartbeat
		err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
			changed, h = nil, nil
			now := s.Now()
			if h, err = tx.ClaimMissedHeartbeat(ctx, id, now); errors.Is(err, store.ErrNotFound) {
				h = nil
				return nil
			} else if err != nil {
				return err
			}
			changed, err = s.heartbeatAlert(ctx, tx, h.Alert(alert.Firing, false, now))
			return err
		})
		if err != nil {
			return fired, err
		}
		if h != nil {
			fired++
			s.log.Info("heartbeat missed", "heartbeat", h.ID, "name", h.Name, "deadline", h.Deadline)
			s.publishAlerts(changed, nil)
		}
	}
	return fired, nil
}

// HeartbeatStates counts live heartbeats by state, for metrics.
func (s *Service) HeartbeatStates(ctx context.Context) (map[heartbeat.State]int64, error) {
	var out map[heartbeat.State]int64
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.HeartbeatStates(ctx); return err })
	return out, err
}
