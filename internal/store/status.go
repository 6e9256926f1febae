package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/status"
)

// The status page's tables: components, planned maintenance, settings,
// subscribers, customer reports and the request log of the anonymous
// forms.

const componentColumns = `id, name, description, group_name, position, services, created_at, updated_at`

func scanComponent(row scanner) (*status.Component, error) {
	var (
		c                status.Component
		services         string
		created, updated int64
	)
	if err := noRows(row.Scan(&c.ID, &c.Name, &c.Description, &c.Group, &c.Position, &services, &created, &updated)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(services), &c.Services); err != nil {
		return nil, fmt.Errorf("component %d services: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

func componentTaken(err error, name string) error {
	if IsUnique(err) {
		return problem.Wrap(problem.Conflict, "component_exists", err, "a component named %q already exists", name)
	}
	return err
}

// InsertComponent stores a new component and sets its ID; a taken name is
// a conflict.
func (t *Tx) InsertComponent(ctx context.Context, c *status.Component) error {
	services, _ := json.Marshal(nonNil(c.Services))
	cols := `name, description, group_name, position, services, created_at, updated_at`
	a := args{c.Name, c.Description, c.Group, c.Position, string(services), micros(c.CreatedAt), micros(c.UpdatedAt)}
	id, err := t.insertID(ctx, "components", &cols, &a)
	if err != nil {
		return err
	}
	err = t.q.QueryRowContext(ctx, `INSERT INTO components (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7`+id+`) RETURNING id`, a...).Scan(&c.ID)
	return componentTaken(err, c.Name)
}

// SaveComponent writes a component's fields.
func (t *Tx) SaveComponent(ctx context.Context, c *status.Component) error {
	services, _ := json.Marshal(nonNil(c.Services))
	res, err := t.q.ExecContext(ctx, `UPDATE components SET name = $1, description = $2, group_name = $3, position = $4, services = $5,
		updated_at = $6 WHERE id = $7`, c.Name, c.Description, c.Group, c.Position, string(services), micros(c.UpdatedAt), c.ID)
	if err != nil {
		return componentTaken(err, c.Name)
	}
	return affected(res, nil)
}

// Component reads one component.
func (t *Tx) Component(ctx context.Context, id int64) (*status.Component, error) {
	return scanComponent(t.q.QueryRowContext(ctx, `SELECT `+componentColumns+` FROM components WHERE id = $1`, id))
}

// Components lists every component in page order.
func (t *Tx) Components(ctx context.Context) ([]*status.Component, error) {
	return collect(scanComponent)(t.q.QueryContext(ctx, `SELECT `+componentColumns+` FROM components ORDER BY position, name`))
}

// DeleteComponent removes a component.
func (t *Tx) DeleteComponent(ctx context.Context, id int64) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM components WHERE id = $1`, id)
	return affected(res, err)
}

const maintenanceColumns = `id, title, body, starts_at, ends_at, components, created_by, created_at`

func scanMaintenance(row scanner) (*status.Maintenance, error) {
	var (
		m                     status.Maintenance
		comps                 string
		start, end, createdAt int64
	)
	if err := noRows(row.Scan(&m.ID, &m.Title, &m.Body, &start, &end, &comps, &m.CreatedBy, &createdAt)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(comps), &m.Components); err != nil {
		return nil, fmt.Errorf("maintenance %d components: %w", m.ID, err)
	}
	m.Start, m.End, m.CreatedAt = fromMicros(start), fromMicros(end), fromMicros(createdAt)
	return &m, nil
}

// InsertMaintenance stores planned work and sets its ID.
func (t *Tx) InsertMaintenance(ctx context.Context, m *status.Maintenance) error {
	comps, _ := json.Marshal(nonNilIDs(m.Components))
	cols := `title, body, starts_at, ends_at, components, created_by, created_at`
	a := args{m.Title, m.Body, micros(m.Start), micros(m.End), string(comps), m.CreatedBy, micros(m.CreatedAt)}
	id, err := t.insertID(ctx, "maintenance", &cols, &a)
	if err != nil {
		return err
	}
	return t.q.QueryRowContext(ctx, `INSERT INTO maintenance (`+cols+`) VALUES ($1, $2, $3, $4, $5, $6, $7`+id+`) RETURNING id`, a...).Scan(&m.ID)
}

// Maintenance lists planned work that ends after since, soonest first.
func (t *Tx) Maintenance(ctx context.Context, since time.Time) ([]*status.Maintenance, error) {
	return collect(scanMaintenance)(t.q.QueryContext(ctx, `SELECT `+maintenanceColumns+` FROM maintenance WHERE ends_at > $1
		ORDER BY starts_at, id`, micros(since)))
}

// DeleteMaintenance removes planned work.
func (t *Tx) DeleteMaintenance(ctx context.Context, id int64) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM maintenance WHERE id = $1`, id)
	return affected(res, err)
}

func nonNilIDs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// StatusSettings reads every status page setting by name, and when they
// last changed. Callers must not change the map: the SQLite writer keeps
// it (tablecache.go).
func (t *Tx) StatusSettings(ctx context.Context) (map[string]string, time.Time, error) {
	if t.cached(tableStatusSettings) {
		r, err := t.caches.status.get(func() (statusRead, error) {
			m, at, err := t.readStatusSettings(ctx)
			return statusRead{settings: m, updated: at}, err
		})
		return r.settings, r.updated, err
	}
	return t.readStatusSettings(ctx)
}

func (t *Tx) readStatusSettings(ctx context.Context) (map[string]string, time.Time, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT name, value, updated_at FROM status_settings`)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	out := map[string]string{}
	var last int64
	for rows.Next() {
		var name, value string
		var at int64
		if err := rows.Scan(&name, &value, &at); err != nil {
			return nil, time.Time{}, err
		}
		out[name] = value
		last = max(last, at)
	}
	return out, fromMicros(last), rows.Err()
}

// SetStatusSetting writes one setting.
func (t *Tx) SetStatusSetting(ctx context.Context, name, value string, at time.Time) error {
	t.touch(tableStatusSettings)
	_, err := t.q.ExecContext(ctx, `INSERT INTO status_settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, micros(at))
	return err
}

const subscriberColumns = `id, email, components, created_at, confirm_sent_at, confirmed_at`

func scanSubscriber(row scanner) (*status.Subscriber, error) {
	var (
		s              status.Subscriber
		comps          string
		created, sent  int64
		confirmedMicro sql.NullInt64
	)
	if err := noRows(row.Scan(&s.ID, &s.Email, &comps, &created, &sent, &confirmedMicro)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(comps), &s.Components); err != nil {
		return nil, fmt.Errorf("subscriber %d components: %w", s.ID, err)
	}
	s.CreatedAt, s.ConfirmSentAt, s.ConfirmedAt = fromMicros(created), fromMicros(sent), fromNullMicros(confirmedMicro)
	return &s, nil
}

// InsertSubscriber stores a new, unconfirmed subscriber and sets its ID.
func (t *Tx) InsertSubscriber(ctx context.Context, s *status.Subscriber) error {
	comps, _ := json.Marshal(nonNilIDs(s.Components))
	cols := `email, components, created_at, confirm_sent_at`
	a := args{s.Email, string(comps), micros(s.CreatedAt), micros(s.ConfirmSentAt)}
	id, err := t.insertID(ctx, "subscribers", &cols, &a)
	if err != nil {
		return err
	}
	return t.q.QueryRowContext(ctx, `INSERT INTO subscribers (`+cols+`) VALUES ($1, $2, $3, $4`+id+`) RETURNING id`, a...).Scan(&s.ID)
}

// SaveSubscriber writes a subscriber's components and times.
func (t *Tx) SaveSubscriber(ctx context.Context, s *status.Subscriber) error {
	comps, _ := json.Marshal(nonNilIDs(s.Components))
	res, err := t.q.ExecContext(ctx, `UPDATE subscribers SET components = $1, created_at = $2, confirm_sent_at = $3, confirmed_at = $4
		WHERE id = $5`, string(comps), micros(s.CreatedAt), micros(s.ConfirmSentAt), nullMicros(s.ConfirmedAt), s.ID)
	return affected(res, err)
}

// Subscriber reads one subscriber.
func (t *Tx) Subscriber(ctx context.Context, id int64) (*status.Subscriber, error) {
	return scanSubscriber(t.q.QueryRowContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE id = $1`, id))
}

// SubscriberByEmail reads the subscriber of an address (lower case).
func (t *Tx) SubscriberByEmail(ctx context.Context, email string) (*status.Subscriber, error) {
	return scanSubscriber(t.q.QueryRowContext(ctx, `SELECT `+subscriberColumns+` FROM subscribers WHERE email = $1`, email))
}

// Subscribers lists subscribers by address; confirmedOnly leaves out the
// ones that have not confirmed.
func (t *Tx) Subscribers(ctx context.Context, confirmedOnly bool) ([]*status.Subscriber, error) {
	q := `SELECT ` + subscriberColumns + ` FROM subscribers`
	if confirmedOnly {
		q += ` WHERE confirmed_at IS NOT NULL`
	}
	return collect(scanSubscriber)(t.q.QueryContext(ctx, q+` ORDER BY email`))
}

// DeleteSubscriber removes a subscriber and the messages to it.
func (t *Tx) DeleteSubscriber(ctx context.Context, id int64) error {
	if _, err := t.q.ExecContext(ctx, `DELETE FROM outbox WHERE subscriber_id = $1`, id); err != nil {
		return err
	}
	res, err := t.q.ExecContext(ctx, `DELETE FROM subscribers WHERE id = $1`, id)
	return affected(res, err)
}

// DeleteUnconfirmedSubscribers removes addresses never confirmed since
// before cutoff.
func (t *Tx) DeleteUnconfirmedSubscribers(ctx context.Context, cutoff time.Time) error {
	if _, err := t.q.ExecContext(ctx, `DELETE FROM outbox WHERE subscriber_id IN
		(SELECT id FROM subscribers WHERE confirmed_at IS NULL AND created_at < $1)`, micros(cutoff)); err != nil {
		return err
	}
	_, err := t.q.ExecContext(ctx, `DELETE FROM subscribers WHERE confirmed_at IS NULL AND created_at < $1`, micros(cutoff))
	return err
}

// RequestCount is how many requests of a kind the anonymous forms took
// within a window, and when the oldest of them came.
type RequestCount struct {
	N      int
	Oldest time.Time
}

// CountRequests locks the request log (so concurrent requests on any
// replica are counted one after the other), removes what is older than
// since, and counts requests of kind since then: from remote, and in all.
func (t *Tx) CountRequests(ctx context.Context, kind, remote string, since time.Time) (mine, all RequestCount, err error) {
	if _, err = t.q.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'status_requests'`); err != nil {
		return
	}
	if _, err = t.q.ExecContext(ctx, `DELETE FROM status_requests WHERE at < $1`, micros(since)); err != nil {
		return
	}
	count := func(q string, a ...any) (RequestCount, error) {
		var c RequestCount
		var oldest sql.NullInt64
		err := t.q.QueryRowContext(ctx, `SELECT count(*), MIN(at) FROM status_requests WHERE kind = $1 AND at >= $2`+q, a...).Scan(&c.N, &oldest)
		c.Oldest = fromNullMicros(oldest)
		return c, err
	}
	if mine, err = count(` AND remote = $3`, kind, micros(since), remote); err != nil {
		return
	}
	all, err = count(``, kind, micros(since))
	return
}

// RecordRequest logs a request of an anonymous form.
func (t *Tx) RecordRequest(ctx context.Context, kind, remote string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO status_requests (kind, remote, at) VALUES ($1, $2, $3)`, kind, remote, micros(at))
	return err
}

// Report is a customer's report: an alert in the inbox, and whom to tell
// when the incident it joins is resolved.
type Report struct {
	ID         int64
	AlertID    int64
	Component  int64
	Contact    string
	CreatedAt  time.Time
	NotifiedAt time.Time
}

// InsertReport stores a report and sets its ID.
func (t *Tx) InsertReport(ctx context.Context, r *Report) error {
	var comp any
	if r.Component != 0 {
		comp = r.Component
	}
	return t.q.QueryRowContext(ctx, `INSERT INTO reports (alert_id, component_id, contact, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		r.AlertID, comp, r.Contact, micros(r.CreatedAt)).Scan(&r.ID)
}

const reportColumns = `r.id, r.alert_id, COALESCE(r.component_id, 0), r.contact, r.created_at, r.notified_at`

func scanReport(row scanner) (*Report, error) {
	var r Report
	var created int64
	var notified sql.NullInt64
	if err := noRows(row.Scan(&r.ID, &r.AlertID, &r.Component, &r.Contact, &created, &notified)); err != nil {
		return nil, err
	}
	r.CreatedAt, r.NotifiedAt = fromMicros(created), fromNullMicros(notified)
	return &r, nil
}

// Report reads one report.
func (t *Tx) Report(ctx context.Context, id int64) (*Report, error) {
	return scanReport(t.q.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM reports r WHERE r.id = $1`, id))
}

// ReportsToTell lists the reports attached to an incident whose reporter
// left an address and was not told yet.
func (t *Tx) ReportsToTell(ctx context.Context, number int64) ([]*Report, error) {
	return collect(scanReport)(t.q.QueryContext(ctx, `SELECT `+reportColumns+` FROM reports r JOIN alerts a ON a.id = r.alert_id
		WHERE a.incident_number = $1 AND r.contact <> '' AND r.notified_at IS NULL ORDER BY r.id`, number))
}

// ReportOfAlert reads the report an alert carries.
func (t *Tx) ReportOfAlert(ctx context.Context, alertID int64) (*Report, error) {
	return scanReport(t.q.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM reports r WHERE r.alert_id = $1`, alertID))
}

// MarkReportTold records that the reporter was told.
func (t *Tx) MarkReportTold(ctx context.Context, id int64, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE reports SET notified_at = $1 WHERE id = $2`, micros(at), id)
	return err
}

// statusWindow selects the published incidents the status page shows: open
// ones, and the others that touched the history window.
// A merged or cancelled incident is no longer open: it stays in the
// window while it ended in it.
const statusWindow = `i.on_status_page = TRUE AND i.visibility = 'public' AND ((i.phase IN ('active', 'mitigated') AND i.end_state IS NULL)
	OR i.created_at >= $1 OR i.mitigated_at >= $1 OR i.resolved_at >= $1 OR i.ended_at >= $1)`

// onlyNumbers narrows a status page query to some incidents: all when
// numbers is nil.
func onlyNumbers(numbers []int64, a *args) string {
	if numbers == nil {
		return ""
	}
	if len(numbers) == 0 {
		return " AND 1 = 0"
	}
	ph := make([]string, len(numbers))
	for i, n := range numbers {
		ph[i] = a.add(n)
	}
	return " AND i.number IN (" + strings.Join(ph, ", ") + ")"
}

// PublishedIncidents lists the published, public incidents that are open
// or touched the window since since, newest first, with the fields the
// status page shows and nothing else: number, titles, severity, phase,
// services and the times of opening, mitigation, resolution and
// publication. numbers, when not nil, keeps those incidents only.
func (t *Tx) PublishedIncidents(ctx context.Context, since time.Time, numbers []int64) ([]*incident.Incident, error) {
	a := args{micros(since)}
	// The incident a merged one went into is named only when customers
	// see it too (published and public); its title is the one they read.
	rows, err := t.q.QueryContext(ctx, `SELECT i.number, i.title, i.status_title, i.severity, i.phase, i.services, i.visibility,
		i.created_at, i.mitigated_at, i.resolved_at, i.published_at, i.end_state, i.ended_at,
		CASE WHEN m.on_status_page = TRUE AND m.visibility = 'public' THEN m.number END,
		CASE WHEN m.on_status_page = TRUE AND m.visibility = 'public' THEN m.status_title END,
		CASE WHEN m.on_status_page = TRUE AND m.visibility = 'public' THEN m.title END
		FROM incidents i LEFT JOIN incidents m ON m.number = i.merged_into WHERE `+statusWindow+onlyNumbers(numbers, &a)+`
		ORDER BY i.created_at DESC, i.number DESC`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*incident.Incident
	for rows.Next() {
		inc := &incident.Incident{OnStatusPage: true, EnteredAt: map[incident.Phase]time.Time{}}
		var services string
		var created int64
		var mitigated, resolved, published, ended, into sql.NullInt64
		var endState, intoStatusTitle, intoTitle sql.NullString
		if err := rows.Scan(&inc.Number, &inc.Title, &inc.StatusTitle, &inc.Severity, &inc.Phase, &services, &inc.Visibility,
			&created, &mitigated, &resolved, &published, &endState, &ended, &into, &intoStatusTitle, &intoTitle); err != nil {
			return nil, err
		}
		inc.EndState, inc.EndedAt = incident.EndState(endState.String), fromNullMicros(ended)
		if into.Valid {
			inc.MergedInto = into.Int64
			inc.MergedIntoTitle = (&incident.Incident{Title: intoTitle.String, StatusTitle: intoStatusTitle.String}).CustomerTitle()
		}
		if err := json.Unmarshal([]byte(services), &inc.Services); err != nil {
			return nil, fmt.Errorf("incident %d services: %w", inc.Number, err)
		}
		inc.CreatedAt, inc.PublishedAt = fromMicros(created), fromNullMicros(published)
		inc.EnteredAt[incident.Active] = inc.CreatedAt
		for ph, at := range map[incident.Phase]sql.NullInt64{incident.Mitigated: mitigated, incident.Resolved: resolved} {
			if at.Valid {
				inc.EnteredAt[ph] = fromMicros(at.Int64)
			}
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// PublishedUpdates lists the public updates of the incidents
// PublishedIncidents returns for since and numbers, newest first: id,
// incident, body and time.
func (t *Tx) PublishedUpdates(ctx context.Context, since time.Time, numbers []int64) ([]*incident.Update, error) {
	// Driven by the incidents: each one's updates come from the
	// (incident_number, id) index; sorted here rather than by the query.
	a := args{micros(since)}
	rows, err := t.q.QueryContext(ctx, `SELECT u.id, u.incident_number, u.body, u.created_at FROM updates u
		WHERE u.visibility = 'public' AND u.incident_number IN (SELECT i.number FROM incidents i WHERE `+statusWindow+onlyNumbers(numbers, &a)+`)`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*incident.Update
	for rows.Next() {
		u := &incident.Update{Visibility: incident.Public}
		var created int64
		if err := rows.Scan(&u.ID, &u.Incident, &u.Body, &created); err != nil {
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(created)
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b *incident.Update) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out, rows.Err()
}
