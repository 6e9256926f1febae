package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
)

const integrationColumns = `id, type, name, token_hash, secret, created_by, created_at, last_alert_at`

func scanIntegration(row scanner) (*alert.Integration, error) {
	var in alert.Integration
	var created int64
	var last sql.NullInt64
	if err := noRows(row.Scan(&in.ID, &in.Type, &in.Name, &in.TokenHash, &in.Secret, &in.CreatedBy, &created, &last)); err != nil {
		return nil, err
	}
	in.CreatedAt, in.LastAlertAt = fromMicros(created), fromNullMicros(last)
	return &in, nil
}

// InsertIntegration stores a new integration; a taken name is a conflict.
func (t *Tx) InsertIntegration(ctx context.Context, in *alert.Integration) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO integrations (`+integrationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		in.ID, in.Type, in.Name, in.TokenHash, in.Secret, in.CreatedBy, micros(in.CreatedAt), nullMicros(in.LastAlertAt))
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "integration_exists", err, "an integration named %q already exists", in.Name)
	}
	return err
}

// Integration reads a live integration.
func (t *Tx) Integration(ctx context.Context, id string) (*alert.Integration, error) {
	return scanIntegration(t.q.QueryRowContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1 AND deleted_at IS NULL`, id))
}

// LockIntegration reads a live integration and, on PostgreSQL, holds its
// row until the transaction ends: deliveries of one integration are then
// applied one after the other on every replica, so concurrent re-sends of
// a group cannot open two incidents.
//
// In a group transaction (WriteGrouped) the row, once locked, stays
// locked to the commit: later deliveries of the batch take it from
// memory, a round trip fewer each.
func (t *Tx) LockIntegration(ctx context.Context, id string) (*alert.Integration, error) {
	if in, ok := t.locked[id]; ok {
		c := *in
		return &c, nil
	}
	in, err := scanIntegration(t.q.QueryRowContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1 AND deleted_at IS NULL`+t.lockIntegrationClause(), id))
	if err == nil && t.locked != nil {
		c := *in
		t.locked[id] = &c
	}
	if t.pg != nil {
		// What the transaction found open may have changed while it
		// waited for the lock.
		clear(t.pg.groups)
	}
	return in, err
}

// Integrations lists live integrations by name; the built-in sources of
// customer reports and of heartbeat alerts are not ones an admin manages.
func (t *Tx) Integrations(ctx context.Context) ([]*alert.Integration, error) {
	return collect(scanIntegration)(t.q.QueryContext(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE deleted_at IS NULL AND type NOT IN ('report', 'heartbeat') ORDER BY name`))
}

// DeleteIntegration retires an integration: its URL stops working, its
// alerts stay.
func (t *Tx) DeleteIntegration(ctx context.Context, id string, at time.Time) error {
	delete(t.locked, id)
	res, err := t.q.ExecContext(ctx, `UPDATE integrations SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL AND type NOT IN ('report', 'heartbeat')`, micros(at), id)
	return affected(res, err)
}

// SetIntegrationSecret sets a live integration's signing secret.
func (t *Tx) SetIntegrationSecret(ctx context.Context, id, secret string) error {
	delete(t.locked, id)
	res, err := t.q.ExecContext(ctx, `UPDATE integrations SET secret = $1 WHERE id = $2 AND deleted_at IS NULL`, secret, id)
	return affected(res, err)
}

// TouchIntegration records when an integration last delivered.
func (t *Tx) TouchIntegration(ctx context.Context, id string, at time.Time) error {
	delete(t.locked, id)
	_, err := t.q.ExecContext(ctx, `UPDATE integrations SET last_alert_at = $1 WHERE id = $2`, micros(at), id)
	return err
}

// NoteDelivery records a delivery of integration id: it changes the
// integration's count of firing alerts in the inbox by inbox and, unless
// at is zero, sets when the integration last delivered.
func (t *Tx) NoteDelivery(ctx context.Context, id string, inbox int64, at time.Time) error {
	if t.pg != nil {
		return t.noteDeliveryPg(ctx, id, inbox, at)
	}
	_, err := t.q.ExecContext(ctx, `UPDATE integrations SET inbox_firing = inbox_firing + $2, last_alert_at = COALESCE($3, last_alert_at)
		WHERE id = $1`, id, inbox, nullMicros(at))
	if in, ok := t.locked[id]; ok && err == nil && !at.IsZero() {
		in.LastAlertAt = at
	}
	return err
}

// InboxFiring counts the firing alerts in no incident, over every
// integration, from the counts intake keeps.
func (t *Tx) InboxFiring(ctx context.Context) (int64, error) {
	var n int64
	q := `SELECT CAST(COALESCE(sum(inbox_firing), 0) AS BIGINT) FROM integrations`
	if t.dialect == Postgres {
		q = `SELECT CAST(COALESCE(sum(inbox_firing), 0) + (SELECT COALESCE(sum(value), 0) FROM counters WHERE name LIKE 'inbox:%') AS BIGINT)
			FROM integrations`
	}
	err := t.q.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

// RecordDelivery remembers a delivery id; false means it was seen before.
func (t *Tx) RecordDelivery(ctx context.Context, integration, requestID string, at time.Time) (bool, error) {
	res, err := t.q.ExecContext(ctx, `INSERT INTO deliveries (integration_id, request_id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (integration_id, request_id) DO NOTHING`, integration, requestID, micros(at))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const alertColumns = `id, integration_id, fingerprint, status, title, labels, annotations, links, group_key,
	starts_at, ends_at, first_seen, last_seen, received, incident_number, truncated,
	acked_by, acked_at, dismissed_by, dismissed_at, dismiss_reason`

// alertWriteColumns are the columns alertValues fills, in its order.
const alertWriteColumns = `integration_id, fingerprint, status, title, labels, annotations, links, group_key,
	starts_at, ends_at, first_seen, last_seen, received, incident_number, truncated, alertname`

const alertWriteCount = 16

// alertName is the value of an alert's alertname column: its alertname
// label (even an empty one), else its title. The review's insights group
// alerts by it. Until schema 16 the database computed it from the stored
// labels, which cost PostgreSQL a JSON parse of every alert written.
func alertName(a *alert.Alert) string {
	if name, ok := a.Labels["alertname"]; ok {
		return name
	}
	return a.Title
}

func scanAlert(row scanner) (*alert.Record, error) {
	var (
		r                          alert.Record
		labels, annotations, links string
		starts, first, last        int64
		ends, incidentNumber       sql.NullInt64
		acked, dismissed           sql.NullInt64
	)
	err := noRows(row.Scan(&r.ID, &r.IntegrationID, &r.Fingerprint, &r.Status, &r.Title, &labels, &annotations, &links,
		&r.GroupKey, &starts, &ends, &first, &last, &r.Received, &incidentNumber, &r.Truncated,
		&r.AckedBy, &acked, &r.DismissedBy, &dismissed, &r.DismissReason))
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		s string
		v any
	}{{labels, &r.Labels}, {annotations, &r.Annotations}, {links, &r.Links}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return nil, fmt.Errorf("alert %d: %w", r.ID, err)
		}
	}
	r.StartsAt, r.EndsAt, r.FirstSeen, r.LastSeen = fromMicros(starts), fromNullMicros(ends), fromMicros(first), fromMicros(last)
	r.Incident = incidentNumber.Int64
	r.AckedAt, r.DismissedAt = fromNullMicros(acked), fromNullMicros(dismissed)
	return &r, nil
}

// Encoded holds an alert's JSON columns. Intake encodes them before it
// queues its transaction: on SQLite every write runs on one goroutine, and
// encoding JSON there took a tenth of its time.
type Encoded struct {
	labels, annotations, links string
	// name and key are the alert's key and its hash for the SQLite
	// writer's lookups, computed by EncodeFor for integration keyFor and
	// fingerprint keyFP (alerts_sqlite.go).
	keyFor, keyFP, name string
	key                 int64
}

// Encode encodes a's JSON columns.
func Encode(a *alert.Alert) Encoded {
	b := make([]byte, 0, 512)
	b = appendStringMap(b, a.Labels)
	n := len(b)
	b = appendStringMap(b, a.Annotations)
	m := len(b)
	b = appendLinks(b, a.Links)
	s := string(b)
	return Encoded{labels: s[:n], annotations: s[n:m], links: s[m:]}
}

// AlertRow is an alert to write with its JSON columns encoded; a zero
// Encoded is encoded on the way.
type AlertRow struct {
	*alert.Record
	Encoded
}

func alertValues(r *alert.Record, e Encoded) []any {
	if e.labels == "" {
		e = Encode(&r.Alert)
	}
	var inc any
	if r.Incident != 0 {
		inc = r.Incident
	}
	return []any{r.IntegrationID, r.Fingerprint, r.Status, r.Title, e.labels, e.annotations, e.links, r.GroupKey,
		micros(r.StartsAt), nullMicros(r.EndsAt), micros(r.FirstSeen), micros(r.LastSeen), r.Received, inc, int64(r.Truncated), alertName(&r.Alert)}
}

// errDuplicateAlert is SQLite's unique-key error for alerts, whose key
// has no unique index there (see alertkeys.go); IsUnique reports it.
var errDuplicateAlert = errors.New("store: the integration has an alert with this fingerprint already")

// InsertAlert stores a newly seen alert and sets its ID; a fingerprint its
// integration has stored already is a unique-constraint error.
func (t *Tx) InsertAlert(ctx context.Context, r *alert.Record) error {
	return t.insertAlerts(ctx, []AlertRow{{Record: r}}, true)
}

// insertChunk bounds the rows of one multi-row INSERT, under every
// database's parameter limit.
const insertChunk = 500

// InsertAlerts stores newly seen alerts and sets their IDs, one statement
// per 500 rows; a fingerprint stored already is a unique-constraint error.
func (t *Tx) InsertAlerts(ctx context.Context, recs []*alert.Record) error {
	rows := make([]AlertRow, len(recs))
	for i, r := range recs {
		rows[i].Record = r
	}
	return t.insertAlerts(ctx, rows, true)
}

// InsertAlertRows stores alerts the caller has just looked up and found
// new, and sets their IDs; on SQLite their keys are not looked up again.
func (t *Tx) InsertAlertRows(ctx context.Context, rows []AlertRow) error {
	return t.insertAlerts(ctx, rows, false)
}

// InsertNewAlerts stores the rows whose fingerprint their integration has
// not sent before, in one statement per 500 rows, and sets their IDs; a
// row whose fingerprint may be stored already keeps ID 0 and changes
// nothing. It returns how many rows it stored. Intake tries it first: an
// alert seen for the first time, most of an alert storm, then costs no
// lookup of a whole row. In a PostgreSQL group transaction of several
// deliveries it returns once one statement has written the new alerts of
// them all (runParking, group.go), with the same result.
func (t *Tx) InsertNewAlerts(ctx context.Context, rows []AlertRow) (int, error) {
	if t.dialect == SQLite {
		fresh, err := t.freshRows(ctx, rows)
		if err != nil {
			return 0, err
		}
		return len(fresh), t.insertAlerts(ctx, fresh, false)
	}
	if t.pg != nil && t.pg.park != nil && len(rows) > 0 {
		// In a group transaction the job waits here while the others
		// run, and all their new alerts are written by one statement
		// (pgGroupTx.insertParked).
		return t.pg.park(rows)
	}
	stored := 0
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		n, err := t.insertReturning(ctx, chunk, ` ON CONFLICT (integration_id, fingerprint) DO NOTHING`)
		stored += n
		if err != nil {
			return stored, err
		}
	}
	return stored, nil
}

// insertAlerts stores rows and sets their IDs. check refuses keys stored
// already (PostgreSQL's unique index does so anyway).
func (t *Tx) insertAlerts(ctx context.Context, rows []AlertRow, check bool) error {
	if t.dialect == SQLite {
		if err := t.recentKeys(ctx); err != nil {
			return err
		}
		if check {
			byIntegration := map[string][]string{}
			for _, r := range rows {
				byIntegration[r.IntegrationID] = append(byIntegration[r.IntegrationID], r.Fingerprint)
			}
			for in, fps := range byIntegration {
				found, err := t.AlertsByFingerprint(ctx, in, fps)
				if err != nil {
					return err
				}
				if len(found) > 0 || len(fps) != len(uniqueStrings(fps)) {
					return errDuplicateAlert
				}
			}
		}
	}
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		var n int
		var err error
		if t.dialect == SQLite {
			n, err = t.insertSQLite(ctx, chunk)
		} else {
			n, err = t.insertReturning(ctx, chunk, "")
		}
		if err == nil && n != len(chunk) {
			err = fmt.Errorf("store: %d of %d alerts stored", n, len(chunk))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func uniqueStrings(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// insertReturning runs one multi-row INSERT of rows (with an optional
// conflict clause), sets the IDs of the rows stored and, on SQLite, notes
// their keys as recent. It returns how many it stored.
func (t *Tx) insertReturning(ctx context.Context, rows []AlertRow, conflict string) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	a := make([]any, 0, len(rows)*alertWriteCount)
	at := make(map[string]*alert.Record, len(rows))
	for _, r := range rows {
		a = append(a, alertValues(r.Record, r.Encoded)...)
		at[recentName(r.IntegrationID, r.Fingerprint)] = r.Record
	}
	res, err := t.q.QueryContext(ctx, `INSERT INTO alerts (`+alertWriteColumns+`) VALUES `+t.rowsOf(len(rows), alertWriteCount)+
		conflict+` RETURNING id, integration_id, fingerprint`, a...)
	if err != nil {
		return 0, err
	}
	stored := 0
	err = eachStored(res, func(id int64, in, fp string) {
		if r := at[recentName(in, fp)]; r != nil {
			r.ID = id
			stored++
			if t.recent != nil {
				t.recent.add(in, fp, id)
			}
		}
	})
	return stored, err
}

// eachStored calls fn with every row of an alerts INSERT's RETURNING id,
// integration_id, fingerprint, and closes res.
func eachStored(res *sql.Rows, fn func(id int64, integration, fingerprint string)) error {
	for res.Next() {
		var id int64
		var in, fp string
		if err := res.Scan(&id, &in, &fp); err != nil {
			res.Close()
			return err
		}
		fn(id, in, fp)
	}
	return errors.Join(res.Err(), res.Close())
}

// recentKeys makes sure the SQLite writer's recent keys are loaded.
func (t *Tx) recentKeys(ctx context.Context) error {
	if t.recent == nil {
		return errors.New("store: alerts are written in write transactions only")
	}
	return t.recent.load(ctx, t.q)
}

// params numbers the parameters of a statement built at run time: ? on
// SQLite, whose driver looks every numbered one up by name at a cost that
// grows with the square of their number; $n on PostgreSQL.
type params struct {
	dialect Dialect
	args    []any
}

func (p *params) add(v any) string {
	p.args = append(p.args, v)
	if p.dialect == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(len(p.args))
}

// rowsOf is the VALUES list of a multi-row INSERT: n rows of cols
// parameters. On SQLite the parameters are anonymous (?): the driver looks
// up every numbered parameter by name, a cost that grows with the square
// of their number in a many-row statement.
func (t *Tx) rowsOf(n, cols int) string {
	var q strings.Builder
	q.Grow(n * cols * 5)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for c := range cols {
			if c > 0 {
				q.WriteString(", ")
			}
			if t.dialect == SQLite {
				q.WriteByte('?')
			} else {
				q.WriteString("$" + strconv.Itoa(i*cols+c+1))
			}
		}
		q.WriteByte(')')
	}
	return q.String()
}

// SaveAlert writes the latest state of a stored alert.
func (t *Tx) SaveAlert(ctx context.Context, r *alert.Record) error {
	return t.SaveAlertRow(ctx, AlertRow{Record: r})
}

// SaveAlertRow writes the latest state of a stored alert, its triage
// included.
func (t *Tx) SaveAlertRow(ctx context.Context, r AlertRow) error {
	tr := r.Triage
	_, err := t.q.ExecContext(ctx, `UPDATE alerts SET integration_id = $1, fingerprint = $2, status = $3, title = $4, labels = $5,
		annotations = $6, links = $7, group_key = $8, starts_at = $9, ends_at = $10, first_seen = $11, last_seen = $12,
		received = $13, incident_number = $14, truncated = $15, alertname = $16,
		acked_by = $17, acked_at = $18, dismissed_by = $19, dismissed_at = $20, dismiss_reason = $21 WHERE id = $22`,
		append(alertValues(r.Record, r.Encoded), tr.AckedBy, nullMicros(tr.AckedAt), tr.DismissedBy, nullMicros(tr.DismissedAt), tr.DismissReason, r.ID)...)
	return err
}

// SaveTriage writes what people decided about a stored alert.
func (t *Tx) SaveTriage(ctx context.Context, id int64, tr alert.Triage) error {
	res, err := t.q.ExecContext(ctx, `UPDATE alerts SET acked_by = $1, acked_at = $2, dismissed_by = $3, dismissed_at = $4, dismiss_reason = $5
		WHERE id = $6`, tr.AckedBy, nullMicros(tr.AckedAt), tr.DismissedBy, nullMicros(tr.DismissedAt), tr.DismissReason, id)
	return affected(res, err)
}

// AlertsByID reads stored alerts by id; a missing id is left out.
func (t *Tx) AlertsByID(ctx context.Context, ids []int64) ([]*alert.Record, error) {
	var out []*alert.Record
	for start := 0; start < len(ids); start += insertChunk {
		chunk := ids[start:min(start+insertChunk, len(ids))]
		p := params{dialect: t.dialect}
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			ph[i] = p.add(id)
		}
		list, err := collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id IN (`+strings.Join(ph, ", ")+`) ORDER BY id`, p.args...))
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// AlertsByFingerprint reads the stored alerts of one integration with the
// given fingerprints, keyed by fingerprint.
func (t *Tx) AlertsByFingerprint(ctx context.Context, integration string, fingerprints []string) (map[string]*alert.Record, error) {
	return t.alertsByFingerprint(ctx, integration, fingerprints, "")
}

// AlertsToChange is AlertsByFingerprint for a transaction that goes on
// to change the alerts it reads. On PostgreSQL a merge may move them
// meanwhile: it holds both incidents FOR UPDATE, then moves their
// alerts and counts. So this holds the incidents the alerts are on FOR
// KEY SHARE first, then reads the alerts again holding them FOR NO KEY
// UPDATE: what it returns is where each alert is now, and stays so until
// the transaction ends (a merge waits for it, then moves what it wrote).
// Holding the incidents first keeps a merge from waiting for these
// alerts while this waits for the merge's incident. An alert moved
// between the two reads is on an incident not held yet: it is held then,
// after the alerts; a merge of it in that moment is a deadlock, which
// PostgreSQL breaks and the writers run again.
func (t *Tx) AlertsToChange(ctx context.Context, integration string, fingerprints []string) (map[string]*alert.Record, error) {
	found, err := t.AlertsByFingerprint(ctx, integration, fingerprints)
	if err != nil || t.dialect != Postgres || len(found) == 0 {
		return found, err
	}
	held := map[int64]bool{}
	if err := t.holdIncidentsOf(ctx, found, held); err != nil {
		return nil, err
	}
	if found, err = t.alertsByFingerprint(ctx, integration, fingerprints, " ORDER BY id FOR NO KEY UPDATE"); err != nil {
		return nil, err
	}
	return found, t.holdIncidentsOf(ctx, found, held)
}

// holdIncidentsOf holds FOR KEY SHARE, in number order, the incidents of
// alerts that are not in held yet, and adds them to held.
func (t *Tx) holdIncidentsOf(ctx context.Context, alerts map[string]*alert.Record, held map[int64]bool) error {
	var numbers []int64
	for _, r := range alerts {
		if r.Incident != 0 && !held[r.Incident] {
			held[r.Incident] = true
			numbers = append(numbers, r.Incident)
		}
	}
	if len(numbers) == 0 {
		return nil
	}
	slices.Sort(numbers) // held kept them unique
	_, err := t.q.ExecContext(ctx, `SELECT number FROM incidents WHERE number = ANY(CAST($1 AS bigint[])) ORDER BY number FOR KEY SHARE`, numbers)
	return err
}

// IncidentToJoin reads an incident that intake is about to attach alerts
// to. On PostgreSQL it holds it FOR KEY SHARE until the transaction ends
// and reads its newest version: a merge that committed meanwhile shows,
// and one that comes later waits for this transaction (see
// AlertsToChange).
func (t *Tx) IncidentToJoin(ctx context.Context, number int64) (*incident.Incident, error) {
	if t.dialect != Postgres {
		return t.Incident(ctx, number)
	}
	return scanIncident(t.q.QueryRowContext(ctx, `SELECT `+selectIncident("")+` FROM incidents WHERE number = $1 FOR KEY SHARE`, number))
}

// alertsByFingerprint is AlertsByFingerprint; on PostgreSQL lock ends its
// statements (an ORDER BY and a locking clause).
func (t *Tx) alertsByFingerprint(ctx context.Context, integration string, fingerprints []string, lock string) (map[string]*alert.Record, error) {
	out := make(map[string]*alert.Record, len(fingerprints))
	want := uniqueStrings(fingerprints)
	keep := func(list []*alert.Record, err error) error {
		for _, r := range list {
			if r.IntegrationID == integration && want[r.Fingerprint] {
				out[r.Fingerprint] = r
			}
		}
		return err
	}
	// Chunks keep the statements under every database's parameter limit.
	for start := 0; start < len(fingerprints); start += 500 {
		chunk := fingerprints[start:min(start+500, len(fingerprints))]
		if t.dialect == Postgres {
			p := params{dialect: t.dialect, args: []any{integration}}
			ph := make([]string, len(chunk))
			for i, fp := range chunk {
				ph[i] = p.add(fp)
			}
			if err := keep(collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
				WHERE integration_id = $1 AND fingerprint IN (`+strings.Join(ph, ", ")+`)`+lock, p.args...))); err != nil {
				return nil, err
			}
			continue
		}
		// SQLite: the recent keys name ids, alert_keys names candidates
		// by hash; the rows are compared above.
		if t.recent != nil {
			if err := t.recentKeys(ctx); err != nil {
				return nil, err
			}
		}
		recent, keys := params{dialect: SQLite}, params{dialect: SQLite}
		var rph, kph []string
		for _, fp := range chunk {
			if t.recent != nil {
				if e, ok := t.recent.lookup(integration, fp); ok {
					rph = append(rph, recent.add(e.id))
					continue
				}
			}
			kph = append(kph, keys.add(alertKey(integration, fp)))
		}
		if len(rph) > 0 {
			if err := keep(collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
				WHERE id IN (`+strings.Join(rph, ", ")+`)`, recent.args...))); err != nil {
				return nil, err
			}
		}
		if len(kph) == 0 {
			continue
		}
		if err := keep(collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
			WHERE id IN (SELECT alert_id FROM alert_keys WHERE k IN (`+strings.Join(kph, ", ")+`))`, keys.args...))); err != nil {
			return nil, err
		}
		if t.recent == nil {
			// A read transaction has no recent keys: it reads the alerts
			// past the low-water mark, a bounded range of ids.
			tail := params{dialect: SQLite, args: []any{integration}}
			ph := make([]string, len(chunk))
			for i, fp := range chunk {
				ph[i] = tail.add(fp)
			}
			if err := keep(collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
				WHERE id > (SELECT value FROM counters WHERE name = 'alert_keys') AND integration_id = ? AND fingerprint IN (`+
				strings.Join(ph, ", ")+`)`, tail.args...))); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Alert reads one stored alert.
func (t *Tx) Alert(ctx context.Context, id int64) (*alert.Record, error) {
	return scanAlert(t.q.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
}

// IncidentAlerts lists the alerts attached to an incident.
func (t *Tx) IncidentAlerts(ctx context.Context, number int64) ([]*alert.Record, error) {
	return collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE incident_number = $1 ORDER BY id`, number))
}

// NewestIncidentAlerts lists the newest limit alerts attached to an
// incident, oldest first, and counts them all: a storm's incident pages
// read only what they show.
func (t *Tx) NewestIncidentAlerts(ctx context.Context, number int64, limit int) ([]*alert.Record, int, error) {
	var total int
	if err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE incident_number = $1`, number).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE incident_number = $1 ORDER BY id DESC LIMIT $2`, number, limit))
	slices.Reverse(list)
	return list, total, err
}

// AlertCounts are the numbers intake keeps per incident, so that an alert
// joining an incident never costs a read of the alerts already there.
type AlertCounts struct {
	// Attached and Firing count the alerts attached to the incident now,
	// and those of them firing.
	Attached, Firing int64
	// Truncated is the most alerts of the incident's group a sender said
	// it left out of one delivery.
	Truncated int64
	// Phase and AlertsResolved are the incident's, for the hint.
	Phase          incident.Phase
	AlertsResolved bool
}

// AddAlertCounts changes an incident's counts of attached and firing
// alerts by the given amounts, raises its count of alerts left out to
// truncated if that is more, and returns the counts after the change
// (its slots' share included). It holds the incident's row to the commit.
func (t *Tx) AddAlertCounts(ctx context.Context, number, attached, firing, truncated int64) (AlertCounts, error) {
	c := AlertCounts{}
	err := t.q.QueryRowContext(ctx, `UPDATE incidents SET alerts_attached = alerts_attached + $2, alerts_firing = alerts_firing + $3,
		alerts_truncated = CASE WHEN alerts_truncated < $4 THEN $4 ELSE alerts_truncated END
		WHERE number = $1 RETURNING alerts_attached, alerts_firing, alerts_truncated, phase, alerts_resolved`,
		number, attached, firing, truncated).Scan(&c.Attached, &c.Firing, &c.Truncated, &c.Phase, &c.AlertsResolved)
	if err != nil || t.dialect != Postgres {
		return c, noRows(err)
	}
	// The slots' share, read after the update: it waited for every
	// transaction holding the row to add to a slot (FOR SHARE) to commit,
	// and this statement's snapshot sees what they added.
	var a, f int64
	err = t.q.QueryRowContext(ctx, `SELECT COALESCE(sum(attached), 0), COALESCE(sum(firing), 0)
		FROM incident_alert_counts WHERE incident_number = $1`, number).Scan(&a, &f)
	c.Attached += a
	c.Firing += f
	return c, err
}

// IncidentAlertCounts reads an incident's alert counts: its row's plus
// its slots' (AddAlertCountsShared).
func (t *Tx) IncidentAlertCounts(ctx context.Context, number int64) (AlertCounts, error) {
	c := AlertCounts{}
	err := t.q.QueryRowContext(ctx, `SELECT
		alerts_attached + (SELECT COALESCE(sum(attached), 0) FROM incident_alert_counts WHERE incident_number = $1),
		alerts_firing + (SELECT COALESCE(sum(firing), 0) FROM incident_alert_counts WHERE incident_number = $1),
		alerts_truncated, phase, alerts_resolved
		FROM incidents WHERE number = $1`, number).Scan(&c.Attached, &c.Firing, &c.Truncated, &c.Phase, &c.AlertsResolved)
	return c, noRows(err)
}

// openIncidentForGroupPg is OpenIncidentForGroup's query on PostgreSQL:
// it walks the group's incident numbers from the newest down, one index
// probe each, and stops at the first incident still open. The join of
// SQLite's query let PostgreSQL's planner read every alert of the group
// and sort them: in a storm that is every alert of the storm's incident,
// once per group transaction (10 ms at 27,000 alerts), so the storm's
// cost per alert grew with its size.
//
// In a write transaction, the incident found is held FOR KEY SHARE to the transaction's end, and
// is open once held: a merge (or any change through IncidentForUpdate)
// locks it FOR UPDATE first, so either it waits for this transaction and
// then moves the alerts it attached, or it commits first and this
// statement sees the incident ended. found without held is that second
// case: the caller looks again.
const openIncidentForGroupPg = `WITH RECURSIVE g (n, open) AS (
		SELECT m.n, EXISTS (SELECT 1 FROM incidents i WHERE i.number = m.n AND i.phase <> 'closed' AND i.end_state IS NULL)
		FROM (SELECT (SELECT a.incident_number FROM alerts a
				WHERE a.integration_id = $1 AND a.group_key = $2 AND a.incident_number IS NOT NULL
				ORDER BY a.incident_number DESC LIMIT 1) AS n) m
		UNION ALL
		SELECT m.n, EXISTS (SELECT 1 FROM incidents i WHERE i.number = m.n AND i.phase <> 'closed' AND i.end_state IS NULL)
		FROM (SELECT (SELECT a.incident_number FROM alerts a
				WHERE a.integration_id = $1 AND a.group_key = $2 AND a.incident_number < g.n
				ORDER BY a.incident_number DESC LIMIT 1) AS n
			FROM g WHERE NOT g.open) m
		WHERE m.n IS NOT NULL)`

// openIncidentForGroupPgHeld ends openIncidentForGroupPg in a write
// transaction: the incident found, and the same held.
const openIncidentForGroupPgHeld = `,
	found AS (SELECT n FROM g WHERE open LIMIT 1),
	held AS (SELECT i.number FROM incidents i JOIN found ON i.number = found.n
		WHERE i.phase <> 'closed' AND i.end_state IS NULL FOR KEY SHARE OF i)
	SELECT (SELECT n FROM found), (SELECT number FROM held)`

// OpenIncidentForGroup finds the newest incident that is not closed, not
// cancelled nor merged, and holds an alert of the integration's group. A
// merged incident's alerts moved to its target, so its group finds the
// target.
func (t *Tx) OpenIncidentForGroup(ctx context.Context, integration, groupKey string) (int64, error) {
	if t.pg != nil {
		return t.pg.openIncidentForGroup(ctx, t, integration, groupKey)
	}
	return t.openIncidentForGroup(ctx, integration, groupKey)
}

func (t *Tx) openIncidentForGroup(ctx context.Context, integration, groupKey string) (int64, error) {
	var n int64
	if t.dialect == Postgres && t.readOnly {
		err := t.q.QueryRowContext(ctx, openIncidentForGroupPg+` SELECT n FROM g WHERE open`, integration, groupKey).Scan(&n)
		return n, noRows(err)
	}
	if t.dialect == Postgres {
		// Each look is a new statement, which sees what ended the
		// incident found by the one before: a merge moved the group's
		// alerts to its target, which the next look finds.
		for range groupLooks {
			var found, held sql.NullInt64
			if err := t.q.QueryRowContext(ctx, openIncidentForGroupPg+openIncidentForGroupPgHeld, integration, groupKey).Scan(&found, &held); err != nil {
				return 0, err
			}
			switch {
			case !found.Valid:
				return 0, ErrNotFound
			case held.Valid:
				return held.Int64, nil
			}
		}
		return 0, errGroupChanged
	}
	err := t.q.QueryRowContext(ctx, `SELECT a.incident_number FROM alerts a JOIN incidents i ON i.number = a.incident_number
		WHERE a.integration_id = $1 AND a.group_key = $2 AND a.incident_number IS NOT NULL AND i.phase <> 'closed'
		AND i.end_state IS NULL ORDER BY a.incident_number DESC LIMIT 1`, integration, groupKey).Scan(&n)
	return n, noRows(err)
}

// groupLooks bounds the looks for a group's open incident that find one
// ended (merged, cancelled, closed) while they waited for it; past them
// the transaction runs again (errGroupChanged).
const groupLooks = 4

// errGroupChanged is a serialization failure (SQLSTATE 40001): the
// writers run the transaction again (retryable).
var errGroupChanged = serializationFailure("a group's open incident kept ending while intake looked for it")

// AlertFilter selects alerts for the inbox.
type AlertFilter struct {
	Status      alert.Status
	Integration string
	Unattached  bool
	Incident    int64
	// Dismissed picks dismissed alerts: DismissedHide (the default)
	// leaves them out, DismissedOnly keeps only them, DismissedAny both.
	Dismissed DismissedFilter
	Limit     int
	Offset    int
}

// DismissedFilter says what an alert list does with dismissed alerts.
type DismissedFilter string

const (
	DismissedHide DismissedFilter = ""
	DismissedOnly DismissedFilter = "only"
	DismissedAny  DismissedFilter = "any"
)

// Alerts lists alerts, unattached first, then most recently seen.
func (t *Tx) Alerts(ctx context.Context, f AlertFilter) ([]*alert.Record, error) {
	var a args
	var where []string
	if f.Status != "" {
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if f.Integration != "" {
		where = append(where, "integration_id = "+a.add(f.Integration))
	}
	if f.Unattached {
		where = append(where, "incident_number IS NULL")
	}
	if f.Incident != 0 {
		where = append(where, "incident_number = "+a.add(f.Incident))
	}
	switch f.Dismissed {
	case DismissedHide:
		where = append(where, "dismissed_at IS NULL")
	case DismissedOnly:
		where = append(where, "dismissed_at IS NOT NULL")
	}
	q := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY CASE WHEN incident_number IS NULL THEN 0 ELSE 1 END, last_seen DESC, id DESC LIMIT ` + a.add(limit) + ` OFFSET ` + a.add(max(f.Offset, 0))
	return collect(scanAlert)(t.q.QueryContext(ctx, q, a...))
}

func (t *Tx) scanRule(row scanner) (*alert.Rule, error) {
	var r alert.Rule
	var matchers string
	var integration sql.NullString
	var created int64
	if err := noRows(row.Scan(&r.ID, &r.Position, &r.Name, &matchers, &r.Action, &integration, &r.Severity, &r.Visibility, &created)); err != nil {
		return nil, err
	}
	ms, err := t.matchers.parse(matchers)
	if err != nil {
		return nil, fmt.Errorf("rule %d matchers: %w", r.ID, err)
	}
	r.Matchers, r.Integration, r.CreatedAt = ms, integration.String, fromMicros(created)
	return &r, nil
}

const ruleColumns = `id, position, name, matchers, action, integration_id, severity, visibility, created_at`

// Rules lists routing rules in the order they apply. Callers must not
// change the rules returned.
func (t *Tx) Rules(ctx context.Context) ([]*alert.Rule, error) {
	if t.rules != nil {
		return t.rules, nil
	}
	read := func() ([]*alert.Rule, error) {
		return collect(t.scanRule)(t.q.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY position, id`))
	}
	if t.cached(tableRules) {
		return t.caches.rules.get(read)
	}
	rules, err := read()
	if err == nil && rules != nil {
		t.rules = rules
	}
	return rules, err
}

// InsertRule stores a rule and sets its ID.
func (t *Tx) InsertRule(ctx context.Context, r *alert.Rule) error {
	cols := `position, name, matchers, action, integration_id, severity, visibility, created_at`
	a := args{r.Position, r.Name, r.MatchersString(), r.Action, nullString(r.Integration), r.Severity, r.Visibility, micros(r.CreatedAt)}
	id, err := t.insertID(ctx, "rules", &cols, &a)
	if err != nil {
		return err
	}
	t.touch(tableRules)
	err = t.q.QueryRowContext(ctx, `INSERT INTO rules (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8`+id+`) RETURNING id`, a...).Scan(&r.ID)
	t.rules = nil
	if isForeignKey(err) {
		return problem.Wrap(problem.Unprocessable, "unknown_integration", err, "integration %q does not exist", r.Integration)
	}
	return err
}

// DeleteRule removes a rule.
func (t *Tx) DeleteRule(ctx context.Context, id int64) error {
	t.rules = nil
	t.touch(tableRules)
	res, err := t.q.ExecContext(ctx, `DELETE FROM rules WHERE id = $1`, id)
	return affected(res, err)
}

// matcherCache keeps parsed rule matchers by their stored text: rules are
// read on every delivery, and compiling their regular expressions each
// time was measurable work per request.
type matcherCache struct {
	mu sync.Mutex
	m  map[string][]alert.Matcher
}

func (c *matcherCache) parse(s string) ([]alert.Matcher, error) {
	c.mu.Lock()
	ms, ok := c.m[s]
	c.mu.Unlock()
	if ok {
		return ms, nil
	}
	ms, err := alert.ParseMatchers(s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 1000 {
		c.m = map[string][]alert.Matcher{}
	}
	c.m[s] = ms
	c.mu.Unlock()
	return ms, nil
}

// DeleteDeliveriesBefore forgets delivery ids received before cutoff: a
// replay older than that would be a new delivery anyway.
func (t *Tx) DeleteDeliveriesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM deliveries WHERE received_at < $1`, micros(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
