package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/problem"
)

const channelColumns = `id, type, name, url, recipients, secret, audience, events, filter, disabled, created_at, updated_at`

func scanChannel(row scanner) (*notify.Channel, error) {
	var (
		c                        notify.Channel
		recipients, events, filt string
		created, updated         int64
	)
	if err := noRows(row.Scan(&c.ID, &c.Type, &c.Name, &c.URL, &recipients, &c.Secret, &c.Audience, &events, &filt,
		&c.Disabled, &created, &updated)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(recipients), &c.Recipients); err != nil {
		return nil, fmt.Errorf("channel %d recipients: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(events), &c.Events); err != nil {
		return nil, fmt.Errorf("channel %d events: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(filt), &c.Filter); err != nil {
		return nil, fmt.Errorf("channel %d filter: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

func channelJSON(c *notify.Channel) (recipients, events, filt string, err error) {
	r, err1 := json.Marshal(nonNil(c.Recipients))
	e, err2 := json.Marshal(c.Events)
	f, err3 := json.Marshal(c.Filter)
	return string(r), string(e), string(f), firstErr(err1, err2, err3)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// InsertChannel stores a new channel and sets its ID; a taken name is a
// conflict.
func (t *Tx) InsertChannel(ctx context.Context, c *notify.Channel) error {
	t.touchChannels()
	r, e, f, err := channelJSON(c)
	if err != nil {
		return err
	}
	err = t.q.QueryRowContext(ctx, `INSERT INTO channels (type, name, url, recipients, secret, audience, events, filter, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		c.Type, c.Name, c.URL, r, c.Secret, c.Audience, e, f, c.Disabled, micros(c.CreatedAt), micros(c.UpdatedAt)).Scan(&c.ID)
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "channel_exists", err, "a channel named %q already exists", c.Name)
	}
	return err
}

// SaveChannel writes a channel's mutable fields.
func (t *Tx) SaveChannel(ctx context.Context, c *notify.Channel) error {
	t.touchChannels()
	r, e, f, err := channelJSON(c)
	if err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `UPDATE channels SET name = $1, url = $2, recipients = $3, secret = $4, audience = $5, events = $6,
		filter = $7, disabled = $8, updated_at = $9 WHERE id = $10`,
		c.Name, c.URL, r, c.Secret, c.Audience, e, f, c.Disabled, micros(c.UpdatedAt), c.ID)
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "channel_exists", err, "a channel named %q already exists", c.Name)
	}
	return affected(res, err)
}

// affected turns an update of no row into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Channel reads a channel by ID.
func (t *Tx) Channel(ctx context.Context, id int64) (*notify.Channel, error) {
	if t.cachedChannels() {
		list, err := t.Channels(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if c.ID == id {
				return c, nil
			}
		}
		return nil, ErrNotFound
	}
	return scanChannel(t.q.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE id = $1`, id))
}

// cachedChannels reports whether the channels come from the SQLite
// store's cache: not in a write that changed one.
func (t *Tx) cachedChannels() bool { return t.chans != nil && !t.chansTouched }

// touchChannels notes a change of the channels: lists read from here on
// are read again.
func (t *Tx) touchChannels() {
	if t.pg != nil {
		t.pg.touchChannels()
	}
	if t.chans != nil {
		t.chansTouched = true
		t.chans.bump()
	}
}

// ChannelByName reads a channel by name.
func (t *Tx) ChannelByName(ctx context.Context, name string) (*notify.Channel, error) {
	return scanChannel(t.q.QueryRowContext(ctx, `SELECT `+channelColumns+` FROM channels WHERE name = $1`, name))
}

// Channels lists every channel by name.
func (t *Tx) Channels(ctx context.Context) ([]*notify.Channel, error) {
	read := func() ([]*notify.Channel, error) {
		return collect(scanChannel)(t.q.QueryContext(ctx, `SELECT `+channelColumns+` FROM channels ORDER BY name`))
	}
	if t.cachedChannels() {
		return t.chans.get(read)
	}
	if t.pg != nil {
		return t.pg.channels(read)
	}
	return read()
}

// DeleteChannel removes a channel and its undelivered messages; the
// messages it received stay in the outbox's history only as long as the
// channel exists.
func (t *Tx) DeleteChannel(ctx context.Context, id int64) error {
	t.touchChannels()
	if _, err := t.q.ExecContext(ctx, `DELETE FROM outbox WHERE channel_id = $1`, id); err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `DELETE FROM channels WHERE id = $1`, id)
	return affected(res, err)
}

// Recipient is a person who may get e-mail about their own work.
type Recipient struct {
	UserID   int64
	Username string
	Email    string
	Notify   bool
	Disabled bool
}

// RecipientsByName reads the e-mail settings of the named users; unknown
// names are left out.
func (t *Tx) RecipientsByName(ctx context.Context, names []string) ([]Recipient, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var a args
	ph := make([]string, len(names))
	for i, n := range names {
		ph[i] = a.add(n)
	}
	rows, err := t.q.QueryContext(ctx, `SELECT id, username, email, notify_email, disabled FROM users WHERE username IN (`+strings.Join(ph, ", ")+`)`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		if err := rows.Scan(&r.UserID, &r.Username, &r.Email, &r.Notify, &r.Disabled); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecipientByID reads one person's e-mail settings.
func (t *Tx) RecipientByID(ctx context.Context, id int64) (Recipient, error) {
	var r Recipient
	err := noRows(t.q.QueryRowContext(ctx, `SELECT id, username, email, notify_email, disabled FROM users WHERE id = $1`, id).
		Scan(&r.UserID, &r.Username, &r.Email, &r.Notify, &r.Disabled))
	return r, err
}

// SetUserNotify turns a person's e-mail about their own work on or off.
func (t *Tx) SetUserNotify(ctx context.Context, userID int64, on bool) error {
	res, err := t.q.ExecContext(ctx, `UPDATE users SET notify_email = $1 WHERE id = $2`, on, userID)
	return affected(res, err)
}

// Outbox rows.

const deliveryColumns = `o.id, o.key, COALESCE(o.channel_id, 0), COALESCE(o.user_id, 0),
	COALESCE(c.name, u.username, CASE WHEN o.subscriber_id IS NOT NULL THEN 'status subscriber' WHEN o.report_id IS NOT NULL THEN 'reporter' END, ''),
	o.incident, o.event, o.message, o.state, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.updated_at, o.sent_at,
	COALESCE(o.subscriber_id, 0), COALESCE(o.report_id, 0)`

const deliveryFrom = ` FROM outbox o LEFT JOIN channels c ON c.id = o.channel_id LEFT JOIN users u ON u.id = o.user_id`

func scanDelivery(row scanner) (*notify.Delivery, error) {
	var (
		d                      notify.Delivery
		msg                    string
		next, created, updated int64
		sent                   sql.NullInt64
	)
	if err := noRows(row.Scan(&d.ID, &d.Key, &d.ChannelID, &d.UserID, &d.Channel, &d.Incident, &d.Event, &msg, &d.State,
		&d.Attempts, &next, &d.LastError, &created, &updated, &sent, &d.SubscriberID, &d.ReportID)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(msg), &d.Message); err != nil {
		return nil, fmt.Errorf("outbox %d message: %w", d.ID, err)
	}
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt, d.SentAt = fromMicros(next), fromMicros(created), fromMicros(updated), fromNullMicros(sent)
	return &d, nil
}

// EnqueueDelivery adds a message to the outbox, due now. A key already
// there is left alone (inserted false), so planning the same message twice
// sends it once.
func (t *Tx) EnqueueDelivery(ctx context.Context, d *notify.Delivery, updateID int64) (inserted bool, err error) {
	msg, err := json.Marshal(d.Message)
	if err != nil {
		return false, err
	}
	lane := laneOf(d.ChannelID, d.UserID, d.Incident)
	var channel, user, upd, subscriber, report any
	if d.ChannelID != 0 {
		channel = d.ChannelID
	}
	if d.UserID != 0 {
		user = d.UserID
	}
	switch {
	case d.SubscriberID != 0:
		subscriber, lane = d.SubscriberID, fmt.Sprintf("s%d:i%d", d.SubscriberID, d.Incident)
	case d.ReportID != 0:
		report, lane = d.ReportID, fmt.Sprintf("r%d", d.ReportID)
	}
	if updateID != 0 {
		upd = updateID
	}
	if d.State == "" {
		d.State = notify.Pending
	}
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = d.CreatedAt
	}
	d.UpdatedAt = d.CreatedAt
	const insert = `INSERT INTO outbox (key, channel_id, user_id, incident, update_id, lane, event, message, state,
		next_attempt_at, created_at, updated_at, subscriber_id, report_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (key) DO NOTHING`
	values := []any{d.Key, channel, user, d.Incident, upd, lane, d.Event, string(msg), d.State, micros(d.NextAttemptAt),
		micros(d.CreatedAt), micros(d.UpdatedAt), subscriber, report}
	if t.dialect == SQLite {
		// The row id from the connection, not RETURNING (AppendEvent).
		var res sql.Result
		if res, err = t.q.ExecContext(ctx, insert, values...); err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n == 0 {
				return false, nil
			}
			if err == nil {
				d.ID, err = res.LastInsertId()
			}
		}
	} else {
		err = t.q.QueryRowContext(ctx, insert+` RETURNING id`, values...).Scan(&d.ID)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	t.queued = true
	if t.fresh == nil {
		return true, nil
	}
	if !d.NextAttemptAt.After(d.CreatedAt) {
		f := Fresh{ID: d.ID, ChannelID: d.ChannelID}
		if d.ChannelID != 0 && d.UserID == 0 && d.SubscriberID == 0 && d.ReportID == 0 {
			// A channel's message goes to the worker whole (handOver),
			// with whether it is the first of its lane: the worker
			// sends it without reading it back.
			var behind bool
			if behind, err = t.laneBusy(ctx, lane, d); err != nil {
				return false, err
			}
			c := *d
			c.Message = notify.Message{}
			f.whole = &handOver{d: c, msg: msg, first: !behind}
		}
		*t.fresh = append(*t.fresh, f)
	}
	if t.lanes == nil {
		t.lanes = map[string]bool{}
	}
	t.lanes[lane] = true
	return true, nil
}

// laneBusy reports whether an unfinished message older than d waits in
// lane, d's: none can about an incident this write opened, unless this
// write queued it.
func (t *Tx) laneBusy(ctx context.Context, lane string, d *notify.Delivery) (bool, error) {
	if t.opened[d.Incident] && !t.lanes[lane] {
		return false, nil
	}
	var one int
	err := t.q.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE lane = $1 AND id < $2 AND state IN ('pending', 'failing') LIMIT 1`,
		lane, d.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// laneOf names the ordering lane of a receiver (a channel or a person) and
// an incident.
func laneOf(channelID, userID, number int64) string {
	if userID != 0 {
		return fmt.Sprintf("u%d:i%d", userID, number)
	}
	return fmt.Sprintf("c%d:i%d", channelID, number)
}

// LaneWaiting reports whether a message of event e to this receiver about
// this incident is still waiting to be sent.
// It stops at the first such message: in an alert storm it is asked once
// per delivery, however long the lane has grown while a channel is down.
func (t *Tx) LaneWaiting(ctx context.Context, channelID, userID, number int64, e notify.Event) (bool, error) {
	var one int
	err := t.q.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE lane = $1 AND state IN ('pending', 'failing') AND event = $2 LIMIT 1`,
		laneOf(channelID, userID, number), e).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Lease claims up to limit due messages for worker `by` until `until`:
// pending or failing, due, not under a live lease, and the oldest
// unfinished message of their lane, so one receiver gets one incident's
// messages in order. At most room[channel] are claimed per channel (a
// missing entry means perChannel), so a channel that hangs cannot take
// every sender. The claim is a guarded update, so two replicas never both
// win a row. Personal messages count as channel 0. It looks at every due
// message (LeaseRequest.Deep).
func (t *Tx) Lease(ctx context.Context, now, until time.Time, by string, limit, perChannel int, room map[int64]int) ([]*notify.Delivery, error) {
	ds, _, err := t.LeaseDue(ctx, LeaseRequest{Now: now, Until: until, By: by, Limit: limit, PerChannel: perChannel, Room: room, Deep: true})
	return ds, err
}

// LeaseRequest says what LeaseDue may claim; see Lease.
type LeaseRequest struct {
	Now, Until        time.Time
	By                string
	Limit, PerChannel int
	Room              map[int64]int
	// Deep looks past the leaseWindow oldest due messages for channels
	// with room. Without it a lease costs the same whatever the backlog;
	// with it, it walks past every due message of the channels without
	// room, so the worker asks for it now and then, not on every pass.
	Deep bool
	// Exclude are messages under a memory lease (Store.HeldLeases): not
	// candidates, whatever the database says of their lease. SQLite only.
	Exclude map[int64]bool
}

// leaseWindow is how many of the oldest due messages a lease that is not
// Deep looks at when some channels have no room.
const leaseWindow = 512

// LeaseDue claims messages as Lease does, in one transaction: the
// candidates (LeaseCandidates), then the claim (Claim).
func (t *Tx) LeaseDue(ctx context.Context, r LeaseRequest) (ds []*notify.Delivery, hidden bool, err error) {
	ids, hidden, err := t.LeaseCandidates(ctx, r)
	if err != nil {
		return nil, false, err
	}
	ds, err = t.Claim(ctx, ids, r.Now, r.Until, r.By)
	return ds, hidden, err
}

// LeaseCandidates picks the messages a lease would claim, only reading:
// the worker reads them outside the write transaction, so on SQLite the
// single writer does not wait for the read, and then claims them. It
// reads the due messages oldest first through the partial index of
// unfinished messages and stops as soon as it has what it may claim.
// Channels without room are left out of the read; unless r.Deep, the
// read stops at the leaseWindow oldest due messages, and hidden reports
// that it did with room left: a channel without room that has a long
// backlog may hide messages of the others, which a Deep lease finds.
func (t *Tx) LeaseCandidates(ctx context.Context, r LeaseRequest) (ids []int64, hidden bool, err error) {
	if r.Limit <= 0 {
		return nil, false, nil
	}
	free := func(ch int64) int {
		if n, ok := r.Room[ch]; ok {
			return n
		}
		return r.PerChannel
	}
	var a args
	at := a.add(micros(r.Now))
	q := `SELECT o.id, COALESCE(o.channel_id, 0) FROM outbox o
		WHERE o.state IN ('pending', 'failing') AND o.next_attempt_at <= ` + at + `
		AND (o.lease_until IS NULL OR o.lease_until < ` + at + `)`
	if len(r.Exclude) > 0 {
		// One statement text whatever the number held; the list is read
		// once per statement. It comes before the look at the lane (the
		// last term): a held message costs a step of the index.
		held := make([]int64, 0, len(r.Exclude))
		for id := range r.Exclude {
			held = append(held, id)
		}
		list, err := json.Marshal(held)
		if err != nil {
			return nil, false, err
		}
		q += ` AND o.id NOT IN (SELECT value FROM json_each(` + a.add(string(list)) + `))`
	}
	var full []string
	for ch := range r.Room {
		if free(ch) <= 0 {
			full = append(full, a.add(ch))
		}
	}
	bounded := false
	if len(full) > 0 {
		q += ` AND COALESCE(o.channel_id, 0) NOT IN (` + strings.Join(full, ", ") + `)`
		if !r.Deep {
			// The last of the leaseWindow oldest due messages, if there
			// are that many: read from the index alone.
			var due, id int64
			err := t.q.QueryRowContext(ctx, `SELECT next_attempt_at, id FROM outbox WHERE state IN ('pending', 'failing')
				AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1 OFFSET $2`, micros(r.Now), leaseWindow-1).Scan(&due, &id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return nil, false, err
			default:
				bounded = true
				q += ` AND (o.next_attempt_at < ` + a.add(due) + ` OR (o.next_attempt_at = ` + a.add(due) + ` AND o.id <= ` + a.add(id) + `))`
			}
		}
	}
	// Last, as the costliest: the oldest unfinished message of its lane.
	q += ` AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.id < o.id AND e.state IN ('pending', 'failing'))
		ORDER BY o.next_attempt_at, o.id LIMIT ` + a.add(max(2*r.Limit, 32))
	rows, err := t.q.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	taken := map[int64]int{}
	for rows.Next() && len(ids) < r.Limit {
		var id, ch int64
		if err := rows.Scan(&id, &ch); err != nil {
			return nil, false, err
		}
		if taken[ch] < free(ch) {
			taken[ch]++
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return ids, bounded && len(ids) < r.Limit, nil
}

// Claim leases the messages ids to worker `by` until `until`, each only if
// it is still unfinished, due, not under a live lease and the oldest
// unfinished message of its lane: what LeaseCandidates read may have
// changed since. It returns the messages it claimed.
func (t *Tx) Claim(ctx context.Context, ids []int64, now, until time.Time, by string) ([]*notify.Delivery, error) {
	var out []*notify.Delivery
	for _, id := range ids {
		res, err := t.q.ExecContext(ctx, `UPDATE outbox SET lease_until = $1, leased_by = $2
			WHERE id = $3 AND state IN ('pending', 'failing') AND next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until < $4)
			AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = outbox.lane AND e.id < outbox.id AND e.state IN ('pending', 'failing'))`,
			micros(until), by, id, micros(now))
		if err := affected(res, err); errors.Is(err, ErrNotFound) {
			continue // another worker won it, or it is no longer due
		} else if err != nil {
			return nil, err
		}
		d, err := scanDelivery(t.q.QueryRowContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE o.id = $1`, id))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Outcome is what became of one attempt.
type Outcome struct {
	State         notify.State
	NextAttemptAt time.Time // for Failing
	Error         string
	At            time.Time
	// Attempted is false when the message was not sent at all
	// (suppressed), so the attempt count stays.
	Attempted bool
}

// FinishDelivery records an attempt's outcome and ends the lease. A
// message already finished (sent by a worker whose lease had run out) is
// left alone: sent stays sent.
func (t *Tx) FinishDelivery(ctx context.Context, id int64, o Outcome) error {
	inc := 0
	if o.Attempted {
		inc = 1
	}
	var sent any
	if o.State == notify.Sent {
		sent = micros(o.At)
	}
	next := o.NextAttemptAt
	if next.IsZero() {
		next = o.At
	}
	_, err := t.q.ExecContext(ctx, `UPDATE outbox SET state = $1, attempts = attempts + $2, next_attempt_at = $3, last_error = $4,
		updated_at = $5, sent_at = COALESCE($6, sent_at), lease_until = NULL, leased_by = ''
		WHERE id = $7 AND state IN ('pending', 'failing')`,
		o.State, inc, micros(next), truncateText(o.Error, 1000), micros(o.At), sent, id)
	return err
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// RetryDelivery makes a failed, dead or failing message due now.
func (t *Tx) RetryDelivery(ctx context.Context, id int64, now time.Time) (*notify.Delivery, error) {
	d, err := scanDelivery(t.q.QueryRowContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE o.id = $1`, id))
	if err != nil {
		return nil, err
	}
	switch d.State {
	case notify.Sent:
		return nil, problem.New(problem.Conflict, "already_sent", "message %d was delivered; it is never sent twice", id)
	case notify.Pending:
		return d, nil
	}
	_, err = t.q.ExecContext(ctx, `UPDATE outbox SET state = $1, next_attempt_at = $2, updated_at = $2, lease_until = NULL, leased_by = ''
		WHERE id = $3`, notify.Failing, micros(now), id)
	if err != nil {
		return nil, err
	}
	d.State, d.NextAttemptAt, d.UpdatedAt = notify.Failing, now, now
	return d, nil
}

// ReleaseLeases ends every lease: on SQLite only one process uses the
// database, so leases left by a crash belong to nobody.
func (t *Tx) ReleaseLeases(ctx context.Context) error {
	_, err := t.q.ExecContext(ctx, `UPDATE outbox SET lease_until = NULL, leased_by = '' WHERE lease_until IS NOT NULL`)
	return err
}

// DeliveryFilter selects outbox rows, newest first.
type DeliveryFilter struct {
	Incident  int64
	ChannelID int64
	States    []notify.State
	BeforeID  int64
	Limit     int
}

// Deliveries lists outbox rows.
func (t *Tx) Deliveries(ctx context.Context, f DeliveryFilter) ([]*notify.Delivery, error) {
	var a args
	where := []string{"1 = 1"}
	if f.Incident != 0 {
		where = append(where, "o.incident = "+a.add(f.Incident))
	}
	if f.ChannelID != 0 {
		where = append(where, "o.channel_id = "+a.add(f.ChannelID))
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, s := range f.States {
			ph[i] = a.add(s)
		}
		where = append(where, "o.state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.BeforeID > 0 {
		where = append(where, "o.id < "+a.add(f.BeforeID))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return collect(scanDelivery)(t.q.QueryContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE `+strings.Join(where, " AND ")+
		` ORDER BY o.id DESC LIMIT `+a.add(f.Limit), a...))
}

// Delivery reads one outbox row.
func (t *Tx) Delivery(ctx context.Context, id int64) (*notify.Delivery, error) {
	return scanDelivery(t.q.QueryRowContext(ctx, `SELECT `+deliveryColumns+deliveryFrom+` WHERE o.id = $1`, id))
}

// DeliveryUpdate is the update a delivery is about, if any.
func (t *Tx) DeliveryUpdate(ctx context.Context, id int64) (int64, error) {
	var u sql.NullInt64
	err := noRows(t.q.QueryRowContext(ctx, `SELECT update_id FROM outbox WHERE id = $1`, id).Scan(&u))
	return u.Int64, err
}

// OutboxStats is the outbox at a glance, for metrics.
type OutboxStats struct {
	Pending, Failing int
	// OldestDue is the creation time of the oldest unfinished message.
	OldestDue time.Time
}

// OutboxStats counts unfinished messages.
func (t *Tx) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var oldest sql.NullInt64
	err := t.q.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'failing' THEN 1 ELSE 0 END), 0),
		MIN(created_at) FROM outbox WHERE state IN ('pending', 'failing')`).Scan(&s.Pending, &s.Failing, &oldest)
	s.OldestDue = fromNullMicros(oldest)
	return s, err
}

// DeleteFinishedMessages removes outbox messages that finished (sent,
// failed, dead, suppressed) before t.
func (t *Tx) DeleteFinishedMessages(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM outbox WHERE state NOT IN ('pending', 'failing') AND updated_at < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RecordNudge remembers that a nudge of kind went out for the incident's
// entry into phase at enteredAt; false when it already had.
func (t *Tx) RecordNudge(ctx context.Context, number int64, kind, phase string, enteredAt, now time.Time) (bool, error) {
	res, err := t.q.ExecContext(ctx, `INSERT INTO nudges (incident, kind, phase, entered_at, sent_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, number, kind, phase, micros(enteredAt), micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
