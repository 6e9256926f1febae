package store

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/notify"
)

// What the jobs of a PostgreSQL group transaction share besides the
// transaction: integrations read without a lock, and counts each job
// changes that are written once, just before the commit.
//
// Why: every delivery used to lock its integration's row first and to
// update the integration's (and a storm's incident's) counts, so the
// group transactions of one integration ran one after the other, each
// holding the row through its own WAL flush, on every replica. A delivery
// of brand-new alerts that join the inbox or an incident its group has
// open needs no lock (the unique key of the alerts settles a race of two
// first sightings), and counts are additions that commute: a group
// transaction now does its jobs' work first and takes the rows it
// updates only at its end, so one committer's work overlaps another's
// flush, on one replica or three.

// Deferred is work the jobs of one group transaction share and do once,
// just before it commits: a job's Deferred is merged into those the
// transaction's earlier jobs left (Merge), and the sum is flushed.
type Deferred interface {
	// Merge adds a later job's deferred work of the same kind (the same
	// DeferKey) to this one.
	Merge(later Deferred)
	// Flush does the work in the transaction.
	Flush(ctx context.Context, tx *Tx) error
}

// pgGroupTx is the state of a PostgreSQL group transaction.
type pgGroupTx struct {
	// read holds integrations read without a lock (IntakeIntegration).
	read map[string]*alert.Integration
	// deferred lists each job's deferred work in order; a job rolled
	// back to its savepoint drops its own (mark, rollback).
	deferred []deferredItem
	// groups holds the open incident found for a group key (by
	// integration), chans the channels read: a storm's deliveries of
	// one transaction look each up once.
	groups map[[2]string]int64
	chans  []*notify.Channel
	// park, while set, parks the job storing new alerts (runParking).
	park func(rows []AlertRow) (int, error)
}

type deferredItem struct {
	key string
	d   Deferred
}

func newPgGroupTx() *pgGroupTx {
	return &pgGroupTx{read: map[string]*alert.Integration{}, groups: map[[2]string]int64{}}
}

// Defer queues d under key for the end of the transaction and reports
// true, in a PostgreSQL group transaction (WriteGrouped); elsewhere it
// does nothing and reports false: the caller then does the work at once,
// which on SQLite's single writer costs no waiting.
func (t *Tx) Defer(key string, d Deferred) bool {
	if t.pg == nil {
		return false
	}
	t.pg.deferred = append(t.pg.deferred, deferredItem{key, d})
	return true
}

// IntakeIntegration reads a live integration for intake. In a PostgreSQL
// group transaction it takes no lock (locked is false unless an earlier
// job of the transaction locked the row): the caller calls
// LockIntegration before it changes alerts stored already or opens an
// incident. Elsewhere it is LockIntegration (locked is true).
func (t *Tx) IntakeIntegration(ctx context.Context, id string) (in *alert.Integration, locked bool, err error) {
	if t.pg == nil {
		in, err := t.LockIntegration(ctx, id)
		return in, err == nil, err
	}
	if in, ok := t.locked[id]; ok {
		c := *in
		return &c, true, nil
	}
	if in, ok := t.pg.read[id]; ok {
		c := *in
		return &c, false, nil
	}
	in, err = t.Integration(ctx, id)
	if err == nil {
		c := *in
		t.pg.read[id] = &c
	}
	return in, false, err
}

// mark is where a job's deferred work starts; rollback drops what the
// job deferred since.
func (g *pgGroupTx) mark() int { return len(g.deferred) }

func (g *pgGroupTx) rollback(mark int) {
	clear(g.deferred[mark:])
	g.deferred = g.deferred[:mark]
	clear(g.read)
	clear(g.groups)
	g.chans = nil
}

// flush merges the deferred work by key, in the order each key was first
// deferred, and does it.
func (g *pgGroupTx) flush(ctx context.Context, t *Tx) error {
	if len(g.deferred) == 0 {
		return nil
	}
	var order []Deferred
	first := map[string]Deferred{}
	for _, it := range g.deferred {
		if d, ok := first[it.key]; ok {
			d.Merge(it.d)
			continue
		}
		first[it.key] = it.d
		order = append(order, it.d)
	}
	g.deferred = nil
	for _, d := range order {
		if err := d.Flush(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// lockIntegrationClause is how LockIntegration holds the integration's
// row on PostgreSQL: FOR NO KEY UPDATE keeps two intake transactions (and
// triage) from changing its alerts at once, as FOR UPDATE did, but lets
// others reference the row meanwhile (a foreign key takes FOR KEY SHARE,
// which FOR UPDATE blocks and FOR NO KEY UPDATE does not; since schema 15
// alerts check their integration with a statement trigger that takes no
// lock at all).
func (t *Tx) lockIntegrationClause() string {
	if t.dialect == Postgres {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// inboxSlots bounds how many counters share an integration's count of
// firing alerts in the inbox on PostgreSQL: a group transaction adds to
// one no other transaction holds (SKIP LOCKED), or creates one of these
// if all are held, so transactions do not wait for each other there.
const inboxSlots = 64

// noteDeliveryPg is NoteDelivery in a group transaction: the inbox count
// goes to one of the integration's slots (rows of counters named
// inbox:ID:N, summed by InboxFiring), not to its row, which intake
// then updates only to note its last delivery, once a second. Every
// other writer (triage, attaching alerts by hand) changes the row's
// inbox_firing as before; the count is the sum.
func (t *Tx) noteDeliveryPg(ctx context.Context, id string, inbox int64, at time.Time) error {
	// "Last alert" is for people: when another transaction holds the
	// integration's row, a later delivery notes it instead of waiting.
	if !at.IsZero() {
		var n int64
		err := t.q.QueryRowContext(ctx, `WITH free AS (SELECT id FROM integrations WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED)
			UPDATE integrations i SET last_alert_at = $2 FROM free WHERE i.id = free.id RETURNING 1`, id, micros(at)).Scan(&n)
		switch {
		case err == nil:
			for _, in := range []*alert.Integration{t.locked[id], t.pg.read[id]} {
				if in != nil {
					in.LastAlertAt = at
				}
			}
		case err != sql.ErrNoRows:
			return err
		}
	}
	if inbox == 0 {
		return nil
	}
	// A slot no other transaction holds now; a new one if all are held.
	prefix := "inbox:" + id + ":"
	var name string
	err := t.q.QueryRowContext(ctx, `WITH free AS (SELECT name FROM counters WHERE starts_with(name, $1)
			LIMIT 1 FOR UPDATE SKIP LOCKED)
		UPDATE counters c SET value = c.value + $2 FROM free WHERE c.name = free.name RETURNING c.name`, prefix, inbox).Scan(&name)
	if err != sql.ErrNoRows {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value`, prefix+strconv.Itoa(rand.IntN(inboxSlots)), inbox)
	return err
}

// openIncidentForGroup is OpenIncidentForGroup, an incident found kept
// for the rest of the transaction (until it locks an integration, or a
// job rolls back).
func (g *pgGroupTx) openIncidentForGroup(ctx context.Context, t *Tx, integration, groupKey string) (int64, error) {
	k := [2]string{integration, groupKey}
	if n, ok := g.groups[k]; ok {
		return n, nil
	}
	n, err := t.openIncidentForGroup(ctx, integration, groupKey)
	if err == nil {
		g.groups[k] = n
	}
	return n, err
}

// channels is Channels, read once per transaction unless it changes one.
func (g *pgGroupTx) channels(read func() ([]*notify.Channel, error)) ([]*notify.Channel, error) {
	if g.chans == nil {
		list, err := read()
		if err != nil {
			return nil, err
		}
		g.chans = nonNilChannels(list)
	}
	return copyChannels(g.chans), nil
}

func (g *pgGroupTx) touchChannels() { g.chans = nil }

// insertParkedQuery writes the new alerts of every parked job of a group
// transaction: one statement, its text the same whatever the number of
// rows (arrays, one per column), so PostgreSQL prepares it once.
const insertParkedQuery = `INSERT INTO alerts (` + alertWriteColumns + `)
	SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]), CAST($3 AS text[]), CAST($4 AS text[]), CAST($5 AS text[]),
		CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS text[]), CAST($9 AS bigint[]), CAST($10 AS bigint[]), CAST($11 AS bigint[]),
		CAST($12 AS bigint[]), CAST($13 AS bigint[]), CAST($14 AS bigint[]), CAST($15 AS bigint[]), CAST($16 AS text[]))
	ON CONFLICT (integration_id, fingerprint) DO NOTHING RETURNING id, integration_id, fingerprint`

// insertParked stores the rows of the parked jobs whose fingerprint their
// integration has not stored yet, sets their IDs and returns how many of
// each job's rows it stored. A key that more than one parked row has goes
// to the first of them, in the jobs' order, and the others keep ID 0: as
// if each job had run its own INSERT in turn.
func (t *Tx) insertParked(jobs []parkedJob) ([]int, error) {
	n := 0
	for _, p := range jobs {
		n += len(p.rows)
	}
	var (
		texts   [8][]string
		names   = make([]string, 0, n)
		starts  = make([]int64, 0, n)
		ends    = make([]*int64, 0, n)
		first   = make([]int64, 0, n)
		last    = make([]int64, 0, n)
		recv    = make([]int64, 0, n)
		inc     = make([]*int64, 0, n)
		trunc   = make([]int64, 0, n)
		owner   = make([]int, 0, n)
		byKey   = make(map[string]int, n)
		records = make([]*alert.Record, 0, n)
	)
	for i := range texts {
		texts[i] = make([]string, 0, n)
	}
	for k, p := range jobs {
		for _, r := range p.rows {
			key := recentName(r.IntegrationID, r.Fingerprint)
			if _, ok := byKey[key]; ok {
				continue
			}
			byKey[key] = len(records)
			records, owner = append(records, r.Record), append(owner, k)
			e := r.Encoded
			if e.labels == "" {
				e = Encode(&r.Alert)
			}
			for c, v := range []string{r.IntegrationID, r.Fingerprint, string(r.Status), r.Title, e.labels, e.annotations, e.links, r.GroupKey} {
				texts[c] = append(texts[c], v)
			}
			var end, number *int64
			if !r.EndsAt.IsZero() {
				v := micros(r.EndsAt)
				end = &v
			}
			if r.Incident != 0 {
				v := r.Incident
				number = &v
			}
			starts, ends, first, last = append(starts, micros(r.StartsAt)), append(ends, end), append(first, micros(r.FirstSeen)), append(last, micros(r.LastSeen))
			recv, inc, trunc = append(recv, r.Received), append(inc, number), append(trunc, int64(r.Truncated))
			names = append(names, alertName(&r.Alert))
		}
	}
	res, err := t.q.QueryContext(context.Background(), insertParkedQuery, texts[0], texts[1], texts[2], texts[3], texts[4], texts[5], texts[6], texts[7],
		starts, ends, first, last, recv, inc, trunc, names)
	if err != nil {
		return nil, err
	}
	stored := make([]int, len(jobs))
	err = eachStored(res, func(id int64, in, fp string) {
		if i, ok := byKey[recentName(in, fp)]; ok {
			records[i].ID = id
			stored[owner[i]]++
		}
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}
