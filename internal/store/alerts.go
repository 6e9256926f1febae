package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/alert"
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
func (t *Tx) LockIntegration(ctx context.Context, id string) (*alert.Integration, error) {
	return scanIntegration(t.q.QueryRowContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1 AND deleted_at IS NULL`+t.forUpdate(), id))
}

// Integrations lists live integrations by name; the built-in source of
// customer reports is not one an admin manages.
func (t *Tx) Integrations(ctx context.Context) ([]*alert.Integration, error) {
	return collect(scanIntegration)(t.q.QueryContext(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE deleted_at IS NULL AND type <> 'report' ORDER BY name`))
}

// DeleteIntegration retires an integration: its URL stops working, its
// alerts stay.
func (t *Tx) DeleteIntegration(ctx context.Context, id string, at time.Time) error {
	res, err := t.q.ExecContext(ctx, `UPDATE integrations SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL AND type <> 'report'`, micros(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchIntegration records when an integration last delivered.
func (t *Tx) TouchIntegration(ctx context.Context, id string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE integrations SET last_alert_at = $1 WHERE id = $2`, micros(at), id)
	return err
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
	starts_at, ends_at, first_seen, last_seen, received, incident_number`

func scanAlert(row scanner) (*alert.Record, error) {
	var (
		r                          alert.Record
		labels, annotations, links string
		starts, first, last        int64
		ends, incidentNumber       sql.NullInt64
	)
	err := noRows(row.Scan(&r.ID, &r.IntegrationID, &r.Fingerprint, &r.Status, &r.Title, &labels, &annotations, &links,
		&r.GroupKey, &starts, &ends, &first, &last, &r.Received, &incidentNumber))
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
	return &r, nil
}

func alertValues(r *alert.Record) []any {
	labels, _ := json.Marshal(nonNilMap(r.Labels))
	annotations, _ := json.Marshal(nonNilMap(r.Annotations))
	links := r.Links
	if links == nil {
		links = []alert.Link{}
	}
	l, _ := json.Marshal(links)
	var inc any
	if r.Incident != 0 {
		inc = r.Incident
	}
	return []any{r.IntegrationID, r.Fingerprint, r.Status, r.Title, string(labels), string(annotations), string(l), r.GroupKey,
		micros(r.StartsAt), nullMicros(r.EndsAt), micros(r.FirstSeen), micros(r.LastSeen), r.Received, inc}
}

// InsertAlert stores a newly seen alert and sets its ID.
func (t *Tx) InsertAlert(ctx context.Context, r *alert.Record) error {
	return t.q.QueryRowContext(ctx, `INSERT INTO alerts (integration_id, fingerprint, status, title, labels, annotations, links,
		group_key, starts_at, ends_at, first_seen, last_seen, received, incident_number)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`, alertValues(r)...).Scan(&r.ID)
}

// InsertAlerts stores newly seen alerts in one statement per 500 rows,
// without reading back their IDs: in an alert storm most alerts go to the
// inbox, and one statement per delivery instead of one per alert is the
// difference that lets durable intake keep up.
func (t *Tx) InsertAlerts(ctx context.Context, recs []*alert.Record) error {
	const cols = 14
	for start := 0; start < len(recs); start += 500 {
		chunk := recs[start:min(start+500, len(recs))]
		var q strings.Builder
		q.WriteString(`INSERT INTO alerts (integration_id, fingerprint, status, title, labels, annotations, links,
		group_key, starts_at, ends_at, first_seen, last_seen, received, incident_number) VALUES `)
		a := make([]any, 0, len(chunk)*cols)
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for c := 0; c < cols; c++ {
				if c > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "$%d", i*cols+c+1)
			}
			q.WriteByte(')')
			a = append(a, alertValues(r)...)
		}
		if _, err := t.q.ExecContext(ctx, q.String(), a...); err != nil {
			return err
		}
	}
	return nil
}

// SaveAlert writes the latest state of a stored alert.
func (t *Tx) SaveAlert(ctx context.Context, r *alert.Record) error {
	_, err := t.q.ExecContext(ctx, `UPDATE alerts SET integration_id = $1, fingerprint = $2, status = $3, title = $4, labels = $5,
		annotations = $6, links = $7, group_key = $8, starts_at = $9, ends_at = $10, first_seen = $11, last_seen = $12,
		received = $13, incident_number = $14 WHERE id = $15`, append(alertValues(r), r.ID)...)
	return err
}

// AlertsByFingerprint reads the stored alerts of one integration with the
// given fingerprints, keyed by fingerprint.
func (t *Tx) AlertsByFingerprint(ctx context.Context, integration string, fingerprints []string) (map[string]*alert.Record, error) {
	out := make(map[string]*alert.Record, len(fingerprints))
	// Chunks keep the statement under every database's parameter limit.
	for start := 0; start < len(fingerprints); start += 500 {
		chunk := fingerprints[start:min(start+500, len(fingerprints))]
		a := args{integration}
		ph := make([]string, len(chunk))
		for i, fp := range chunk {
			ph[i] = a.add(fp)
		}
		list, err := collect(scanAlert)(t.q.QueryContext(ctx, `SELECT `+alertColumns+` FROM alerts
			WHERE integration_id = $1 AND fingerprint IN (`+strings.Join(ph, ", ")+`)`, a...))
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			out[r.Fingerprint] = r
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

// OpenIncidentForGroup finds the newest incident that is not closed and
// holds an alert of the integration's group.
func (t *Tx) OpenIncidentForGroup(ctx context.Context, integration, groupKey string) (int64, error) {
	var n int64
	err := t.q.QueryRowContext(ctx, `SELECT a.incident_number FROM alerts a JOIN incidents i ON i.number = a.incident_number
		WHERE a.integration_id = $1 AND a.group_key = $2 AND a.incident_number IS NOT NULL AND i.phase <> 'closed'
		ORDER BY a.incident_number DESC LIMIT 1`, integration, groupKey).Scan(&n)
	return n, noRows(err)
}

// AlertFilter selects alerts for the inbox.
type AlertFilter struct {
	Status      alert.Status
	Integration string
	Unattached  bool
	Incident    int64
	Limit       int
	Offset      int
}

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
	rules, err := collect(t.scanRule)(t.q.QueryContext(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY position, id`))
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
	res, err := t.q.ExecContext(ctx, `DELETE FROM rules WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
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
