package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// changeChannel is the PostgreSQL notification channel that carries
// committed changes between replicas.
const changeChannel = "quench_changes"

// MaxNotifyPayload is the most a payload of Notify may hold: PostgreSQL
// refuses notifications of 8000 bytes or more.
const MaxNotifyPayload = 7900

// Notify hands payloads to every replica that listens (PostgreSQL only),
// in one statement. PostgreSQL delivers them in order, after they commit.
func (s *Store) Notify(ctx context.Context, payloads []string) error {
	if s.dialect != Postgres || len(payloads) == 0 {
		return nil
	}
	_, err := s.write.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest(CAST($2 AS text[])) WITH ORDINALITY AS t(p, i) ORDER BY i`,
		changeChannel, payloads)
	return s.classify(err)
}

// NotifyBelow is Notify in t's transaction: PostgreSQL delivers the
// payloads when the transaction commits, and never if it rolls back. It
// sends them only while PostgreSQL's notification queue is less than
// usage full (0 to 1) and reports whether it did: a queue that a stuck
// listener let fill would otherwise make the transaction fail once it is
// full, and the caller then announces after the commit instead, where a
// full queue cannot cost it the write. On SQLite it sends nothing and
// reports false.
func (t *Tx) NotifyBelow(ctx context.Context, payloads []string, usage float64) (sent bool, err error) {
	if t.dialect != Postgres {
		return false, nil
	}
	if len(payloads) == 0 {
		return true, nil
	}
	res, err := t.q.ExecContext(ctx, `SELECT pg_notify($1, p) FROM unnest(CAST($2 AS text[])) WITH ORDINALITY AS t(p, i)
		WHERE pg_notification_queue_usage() < $3 ORDER BY i`, changeChannel, payloads, usage)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return err == nil && n == int64(len(payloads)), err
}

// listenPing is how long a listening connection waits for a notification
// before it checks that the connection still works: a connection that a
// network fault cut without a reset would otherwise wait forever.
const listenPing = 15 * time.Second

// Listen calls fn with every payload that any replica (this one included)
// sends with Notify, until ctx ends. It keeps a connection of its own and,
// when that is lost (PostgreSQL restarted, the network broke), connects
// again with a growing pause of at most maxPause. Notifications sent while
// no connection listened are lost, so up is called each time listening
// starts, the first time included (first is true then): the caller makes
// its viewers look again. On SQLite, Listen waits for ctx and returns.
func (s *Store) Listen(ctx context.Context, up func(first bool), fn func(payload string)) {
	if s.dialect != Postgres {
		<-ctx.Done()
		return
	}
	const minPause, maxPause = 100 * time.Millisecond, 2 * time.Second
	pause := minPause
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			up(first)
			first = false
			pause = minPause
		}, fn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("live updates from other replicas interrupted, reconnecting", "err", err, "in", pause.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

func (s *Store) listenOnce(ctx context.Context, up func(), fn func(string)) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return err
	}
	up()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(n.Payload)
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		return err
	}
}
