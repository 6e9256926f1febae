package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
)

// newIncidentColumns are the columns a new incident is inserted with: it
// has not ended, so the end columns keep their defaults.
const newIncidentColumns = `number, title, summary, severity, services, labels, detection_source, visibility, phase,
	active_owner, mitigated_owner, resolved_owner, active_at, mitigated_at, resolved_at, closed_at,
	mitigated_note, resolved_note, closed_note, detection_improvement, alerts_resolved, created_by, created_at, updated_at,
	on_status_page, status_title, published_at`

const incidentColumns = newIncidentColumns + `, end_state, ended_at, end_reason, merged_into`

// selectIncident is what reads an incident: its columns, and whether the
// incident it was merged into is confidential (viewers must not learn its
// number). alias qualifies the columns ("" for the incidents table).
func selectIncident(alias string) string {
	cols, table := incidentColumns, "incidents"
	if alias != "" {
		cols, table = prefixed(alias+".", incidentColumns), alias
	}
	return cols + `, COALESCE((SELECT t.visibility FROM incidents t WHERE t.number = ` + table + `.merged_into), '')`
}

// viewerUpdatedAt is an incident's updated_at as viewers may know it:
// when the last event of their timeline happened, or when the incident
// was opened if none. The stored updated_at moves with every change,
// internal ones too, and would tell viewers when the team works behind
// public incidents (an internal update, link or checklist item).
//
// Their timeline is Timeline's with publicOnly: events not marked
// internal, and not about an update that is not public now. That is
// viewersSee (service) read back from the table, with two differences.
// The internal column does not cover an internal update's event (its
// data carries the update's visibility instead), so the update's
// visibility now decides, as for the timeline. And an update, link or
// item made internal, news for viewers' live pages, does not count: its
// event is internal or about an internal update; this is the time of the
// last entry viewers can read, never of something they cannot.
//
// Events are appended as they happen, so the last visible one by id is
// the latest: the partial index events_viewers (schema 17: incident_number,
// id where not internal) read backwards stops at it without passing a
// storm's internal alert events, and intake, whose alert events are
// internal, writes nothing to that index. It is computed at read time
// for viewers only; the team reads the stored updated_at.
const viewerUpdatedAt = `COALESCE((SELECT e.at FROM events e LEFT JOIN updates u ON u.id = e.update_id
	WHERE e.incident_number = incidents.number AND NOT e.internal AND (e.update_id IS NULL OR u.visibility = 'public')
	ORDER BY e.id DESC LIMIT 1), incidents.created_at)`

// selectViewerIncident is selectIncident("") with viewerUpdatedAt for
// updated_at, under that name: "updated_at" in an ORDER BY (SortOrders)
// names the output column, so viewers' lists sort by their time too.
var selectViewerIncident = strings.Replace(selectIncident(""), " updated_at,", " "+viewerUpdatedAt+" AS updated_at,", 1)

// selectIncidentFor is selectIncident("") for the team, or
// selectViewerIncident when publicOnly.
func selectIncidentFor(publicOnly bool) string {
	if publicOnly {
		return selectViewerIncident
	}
	return selectIncident("")
}

type scanner interface{ Scan(dest ...any) error }

func scanIncident(row scanner) (*incident.Incident, error) {
	var (
		inc                       incident.Incident
		services, labels          string
		owners                    [3]sql.NullString
		activeAt, created, update int64
		mit, res, clo             sql.NullInt64
		notes                     [3]string
		endState                  sql.NullString
		endedAt, mergedInto       sql.NullInt64
		targetVisibility          string
		published                 sql.NullInt64
	)
	err := row.Scan(&inc.Number, &inc.Title, &inc.Summary, &inc.Severity, &services, &labels, &inc.DetectionSource,
		&inc.Visibility, &inc.Phase, &owners[0], &owners[1], &owners[2], &activeAt, &mit, &res, &clo,
		&notes[0], &notes[1], &notes[2], &inc.DetectionImprovement, &inc.AlertsResolved, &inc.CreatedBy, &created, &update,
		&inc.OnStatusPage, &inc.StatusTitle, &published,
		&endState, &endedAt, &inc.EndReason, &mergedInto, &targetVisibility)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(services), &inc.Services); err != nil {
		return nil, fmt.Errorf("incident %d services: %w", inc.Number, err)
	}
	if err := json.Unmarshal([]byte(labels), &inc.Labels); err != nil {
		return nil, fmt.Errorf("incident %d labels: %w", inc.Number, err)
	}
	inc.Owners = map[incident.Phase]string{}
	for i, p := range incident.OwnedPhases {
		if owners[i].Valid {
			inc.Owners[p] = owners[i].String
		}
	}
	inc.EnteredAt = map[incident.Phase]time.Time{}
	inc.EnteredAt[incident.Active] = fromMicros(activeAt)
	inc.Notes = map[incident.Phase]string{}
	for i, p := range incident.Phases[1:] {
		if at := fromNullMicros([]sql.NullInt64{mit, res, clo}[i]); !at.IsZero() {
			inc.EnteredAt[p] = at
		}
		if notes[i] != "" {
			inc.Notes[p] = notes[i]
		}
	}
	inc.CreatedAt, inc.UpdatedAt = fromMicros(created), fromMicros(update)
	inc.PublishedAt = fromNullMicros(published)
	inc.EndState, inc.EndedAt, inc.MergedInto = incident.EndState(endState.String), fromNullMicros(endedAt), mergedInto.Int64
	inc.MergedIntoConfidential = targetVisibility == string(incident.Confidential)
	return &inc, nil
}

func incidentValues(inc *incident.Incident) []any {
	services, _ := json.Marshal(nonNil(inc.Services))
	labels, _ := json.Marshal(nonNilMap(inc.Labels))
	at := func(p incident.Phase) any { return nullMicros(inc.EnteredAt[p]) }
	return []any{inc.Number, inc.Title, inc.Summary, inc.Severity, string(services), string(labels), inc.DetectionSource,
		inc.Visibility, inc.Phase, nullString(inc.Owners[incident.Active]), nullString(inc.Owners[incident.Mitigated]),
		nullString(inc.Owners[incident.Resolved]), micros(inc.EnteredAt[incident.Active]), at(incident.Mitigated),
		at(incident.Resolved), at(incident.Closed), inc.Notes[incident.Mitigated], inc.Notes[incident.Resolved],
		inc.Notes[incident.Closed], inc.DetectionImprovement, inc.AlertsResolved, inc.CreatedBy,
		micros(inc.CreatedAt), micros(inc.UpdatedAt), inc.OnStatusPage, inc.StatusTitle, nullMicros(inc.PublishedAt),
		nullString(string(inc.EndState)), nullMicros(inc.EndedAt), inc.EndReason, nullInt(inc.MergedInto)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// NextIncidentNumber is the next gapless incident number; store the
// incident before asking for another (on SQLite the number is not held
// until then). On
// PostgreSQL a counter row does, its lock ordering concurrent writers. The
// SQLite writer is alone, and incidents are never deleted, so the highest
// number stored (the last entry of the key's index) is the last one given:
// reading it spares a page of the counter in every commit that opens an
// incident. The counter, which older versions kept, still bounds it from
// below.
func (t *Tx) NextIncidentNumber(ctx context.Context) (int64, error) {
	var n int64
	q := `SELECT max(COALESCE((SELECT max(number) FROM incidents), 0), (SELECT value FROM counters WHERE name = 'incident')) + 1`
	if t.dialect == Postgres {
		q = `UPDATE counters SET value = value + 1 WHERE name = 'incident' RETURNING value`
	}
	err := t.q.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

// InsertIncident stores a new incident; inc.Number must be allocated.
func (t *Tx) InsertIncident(ctx context.Context, inc *incident.Incident) error {
	return t.InsertIncidentWithAlerts(ctx, inc, AlertCounts{})
}

// InsertIncidentWithAlerts stores a new incident whose alert counts start
// at c (Attached, Firing and Truncated): intake opens an incident for the
// alert it is about to attach, and counting that alert here spares an
// UPDATE of the row just written.
func (t *Tx) InsertIncidentWithAlerts(ctx context.Context, inc *incident.Incident, c AlertCounts) error {
	v := append(incidentValues(inc)[:27], c.Attached, c.Firing, c.Truncated)
	if _, err := t.q.ExecContext(ctx, insertIncident, v...); err != nil {
		return ownerError(err)
	}
	if t.fresh != nil {
		if t.opened == nil {
			t.opened = map[int64]bool{}
		}
		t.opened[inc.Number] = true
	}
	return t.addServices(ctx, inc.Number, inc.Services)
}

// insertIncident is the statement of InsertIncidentWithAlerts, built once.
var insertIncident = func() string {
	ph := make([]string, 30)
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return `INSERT INTO incidents (` + newIncidentColumns + `, alerts_attached, alerts_firing, alerts_truncated) VALUES (` +
		strings.Join(ph, ", ") + `)`
}()

// Incident reads one incident.
func (t *Tx) Incident(ctx context.Context, number int64) (*incident.Incident, error) {
	return scanIncident(t.q.QueryRowContext(ctx, `SELECT `+selectIncident("")+` FROM incidents WHERE number = $1`, number))
}

// IncidentForViewers reads one incident as viewers see it: its
// updated_at is viewerUpdatedAt, and what they may not know of a merge
// is hidden (ForViewers). Whether they may see it at all is the
// caller's to decide.
func (t *Tx) IncidentForViewers(ctx context.Context, number int64) (*incident.Incident, error) {
	inc, err := scanIncident(t.q.QueryRowContext(ctx, `SELECT `+selectViewerIncident+` FROM incidents WHERE number = $1`, number))
	if err == nil {
		inc.ForViewers()
	}
	return inc, err
}

// IncidentForUpdate reads one incident and, on PostgreSQL, locks it until
// the transaction ends so read-modify-write cycles do not lose updates.
func (t *Tx) IncidentForUpdate(ctx context.Context, number int64) (*incident.Incident, error) {
	return scanIncident(t.q.QueryRowContext(ctx, `SELECT `+selectIncident("")+` FROM incidents WHERE number = $1`+t.forUpdate(), number))
}

// SaveIncident writes every mutable field of inc, but only if the incident
// is still in phase expect: two racing transitions cannot both win.
func (t *Tx) SaveIncident(ctx context.Context, inc *incident.Incident, expect incident.Phase, servicesChanged bool) error {
	return t.SaveIncidentEnded(ctx, inc, expect, inc.EndState, servicesChanged)
}

// SaveIncidentEnded is SaveIncident for a change of end state: the
// incident must still be in phase expect and end state expectEnd.
func (t *Tx) SaveIncidentEnded(ctx context.Context, inc *incident.Incident, expect incident.Phase, expectEnd incident.EndState, servicesChanged bool) error {
	v := incidentValues(inc)
	// The guard is the phase and the end state: an incident merged or
	// cancelled meanwhile is not changed by a request that read it live.
	res, err := t.q.ExecContext(ctx, `UPDATE incidents SET title = $2, summary = $3, severity = $4, services = $5, labels = $6,
		detection_source = $7, visibility = $8, phase = $9, active_owner = $10, mitigated_owner = $11, resolved_owner = $12,
		active_at = $13, mitigated_at = $14, resolved_at = $15, closed_at = $16, mitigated_note = $17, resolved_note = $18,
		closed_note = $19, detection_improvement = $20, alerts_resolved = $21, updated_at = $22,
		on_status_page = $24, status_title = $25, published_at = $26,
		end_state = $27, ended_at = $28, end_reason = $29, merged_into = $30
		WHERE number = $1 AND phase = $23 AND COALESCE(end_state, '') = $31`,
		append(v[:21:21], v[23], expect, v[24], v[25], v[26], v[27], v[28], v[29], v[30], string(expectEnd))...)
	if err != nil {
		return ownerError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.Incident(ctx, inc.Number); err != nil {
			return err
		}
		return ErrConflict
	}
	if servicesChanged {
		return t.setServices(ctx, inc.Number, inc.Services)
	}
	return nil
}

func (t *Tx) setServices(ctx context.Context, number int64, services []string) error {
	if _, err := t.q.ExecContext(ctx, `DELETE FROM incident_services WHERE incident_number = $1`, number); err != nil {
		return err
	}
	return t.addServices(ctx, number, services)
}

// addServices lists an incident under services. A new incident needs no
// DELETE first: the table's key starts with the service, so deleting by
// incident reads the whole table, once per incident opened.
func (t *Tx) addServices(ctx context.Context, number int64, services []string) error {
	for _, s := range services {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO incident_services (service, incident_number) VALUES ($1, $2)`, s, number); err != nil {
			return err
		}
	}
	return nil
}

// ownerError explains a foreign-key failure on owner columns: the only
// user references a client can get wrong.
func ownerError(err error) error {
	if err != nil && isForeignKey(err) {
		return problem.Wrap(problem.Unprocessable, "unknown_user", err, "owner is not a known user")
	}
	return err
}

// IncidentFilter selects incidents for lists, the board and search.
type IncidentFilter struct {
	Phases   []incident.Phase
	Service  string
	Severity incident.Severity
	// Owner is the owner of the current phase; "none" selects incidents
	// whose current phase nobody owns.
	Owner      string
	Label      [2]string // name, value
	Query      string
	PublicOnly bool // viewers: public incidents, public updates
	Sort       string
	Limit      int
	Offset     int
	// Source is the detection source.
	Source incident.Source
	// OpenedFrom and OpenedBefore keep incidents opened in
	// [OpenedFrom, OpenedBefore); zero is open-ended.
	OpenedFrom, OpenedBefore time.Time
	// End selects by end state: "" any, "live" neither merged nor
	// cancelled, "ended" either, or one incident.EndState. A phase filter
	// keeps live incidents only.
	End string
	// EndedFrom and EndedBefore keep incidents merged or cancelled in
	// [EndedFrom, EndedBefore); zero is no filter.
	EndedFrom, EndedBefore time.Time
}

// SortOrders maps the accepted sort names to SQL.
var SortOrders = map[string]string{
	"":          "number DESC",
	"-number":   "number DESC",
	"number":    "number ASC",
	"-updated":  "updated_at DESC, number DESC",
	"updated":   "updated_at ASC, number ASC",
	"-created":  "created_at DESC, number DESC",
	"created":   "created_at ASC, number ASC",
	"ended":     "ended_at ASC, number ASC",
	"severity":  "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 ELSE 2 END, number DESC",
	"-severity": "CASE severity WHEN 'critical' THEN 2 WHEN 'major' THEN 1 ELSE 0 END, number DESC",
}

const currentOwner = `CASE phase WHEN 'active' THEN active_owner WHEN 'mitigated' THEN mitigated_owner WHEN 'resolved' THEN resolved_owner END`

// where is the WHERE clause of f with its arguments in a; "" for none.
func (f IncidentFilter) where(a *args) string {
	var where []string
	if f.PublicOnly {
		where = append(where, "visibility = "+a.add(string(incident.Public)))
	}
	if len(f.Phases) > 0 {
		ph := make([]string, len(f.Phases))
		for i, p := range f.Phases {
			ph[i] = a.add(string(p))
		}
		where = append(where, "phase IN ("+strings.Join(ph, ", ")+") AND end_state IS NULL")
	}
	switch f.End {
	case "":
	case "live":
		where = append(where, "end_state IS NULL")
	case "ended":
		where = append(where, "end_state IS NOT NULL")
	default:
		where = append(where, "end_state = "+a.add(f.End))
	}
	if !f.EndedFrom.IsZero() {
		where = append(where, "end_state IS NOT NULL AND ended_at >= "+a.add(micros(f.EndedFrom)))
	}
	if !f.EndedBefore.IsZero() {
		where = append(where, "end_state IS NOT NULL AND ended_at < "+a.add(micros(f.EndedBefore)))
	}
	if f.Service != "" {
		// Driven by the service's rows in incident_services' primary key,
		// not by a probe per incident.
		where = append(where, "number IN (SELECT s.incident_number FROM incident_services s WHERE s.service = "+a.add(f.Service)+")")
	}
	if f.Severity != "" {
		where = append(where, "severity = "+a.add(string(f.Severity)))
	}
	if f.Source != "" {
		where = append(where, "detection_source = "+a.add(string(f.Source)))
	}
	if !f.OpenedFrom.IsZero() {
		where = append(where, "created_at >= "+a.add(micros(f.OpenedFrom)))
	}
	if !f.OpenedBefore.IsZero() {
		where = append(where, "created_at < "+a.add(micros(f.OpenedBefore)))
	}
	switch f.Owner {
	case "":
	case "none":
		where = append(where, "phase <> 'closed' AND end_state IS NULL AND "+currentOwner+" IS NULL")
	default:
		where = append(where, currentOwner+" = "+a.add(f.Owner))
	}
	if f.Label[0] != "" {
		k, _ := json.Marshal(f.Label[0])
		v, _ := json.Marshal(f.Label[1])
		where = append(where, `labels LIKE `+a.add(likePattern(string(k)+":"+string(v)))+` ESCAPE '\'`)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		pat := a.add(likePattern(strings.ToLower(q)))
		updates := "EXISTS (SELECT 1 FROM updates u WHERE u.incident_number = incidents.number AND LOWER(u.body) LIKE " + pat + ` ESCAPE '\'`
		if f.PublicOnly {
			updates += " AND u.visibility = 'public'"
		}
		updates += ")"
		cond := "(LOWER(title) LIKE " + pat + ` ESCAPE '\' OR LOWER(summary) LIKE ` + pat + ` ESCAPE '\' OR ` + updates
		if n, err := parseNumber(q); err == nil {
			cond += " OR number = " + a.add(n)
		}
		where = append(where, cond+")")
	}
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// Incidents lists incidents matching f and the total count without paging.
func (t *Tx) Incidents(ctx context.Context, f IncidentFilter) ([]*incident.Incident, int, error) {
	order, ok := SortOrders[f.Sort]
	if !ok {
		return nil, 0, problem.Invalidf("unknown sort %q", f.Sort)
	}
	var a args
	cond := f.where(&a)
	total, err := t.countIncidents(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	out, err := t.incidentRows(ctx, f.PublicOnly, cond, a, order, limit, max(f.Offset, 0))
	if f.PublicOnly {
		for _, inc := range out {
			inc.ForViewers()
		}
	}
	return out, total, err
}

// countIncidents counts the incidents matching f, without paging. With no
// filter but visibility (a viewer's first page of the log), the public
// ones are counted as all of them (the smallest index) less the
// confidential ones (the small incidents_confidential index): a count
// with visibility = 'public' reads every row. With other filters those
// drive the count, as for the team.
func (t *Tx) countIncidents(ctx context.Context, f IncidentFilter) (int, error) {
	var a args
	query := `SELECT count(*) FROM incidents` + f.where(&a)
	if f.PublicOnly {
		g := f
		g.PublicOnly = false
		if g.where(&args{}) == "" {
			query = `SELECT (SELECT count(*) FROM incidents) - (SELECT count(*) FROM incidents WHERE visibility <> 'public')`
			a = nil
		}
	}
	var n int
	err := t.q.QueryRowContext(ctx, query, a...).Scan(&n)
	return n, err
}

// incidentRows runs the incidents query with the WHERE clause cond (its
// arguments in a) in order, as viewers see them if publicOnly; a limit of
// 0 means all.
func (t *Tx) incidentRows(ctx context.Context, publicOnly bool, cond string, a args, order string, limit int, offset ...int) ([]*incident.Incident, error) {
	query := `SELECT ` + selectIncidentFor(publicOnly) + ` FROM incidents` + cond + ` ORDER BY ` + order
	if limit > 0 {
		query += ` LIMIT ` + a.add(limit)
		if len(offset) > 0 {
			query += ` OFFSET ` + a.add(offset[0])
		}
	}
	rows, err := t.q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*incident.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

// EachIncident calls fn for every incident matching f, in f's order,
// without a limit and without holding more than one in memory: the
// incident log's exports stream it. f's Limit and Offset are ignored. An
// error from fn stops the walk and is returned.
func (t *Tx) EachIncident(ctx context.Context, f IncidentFilter, fn func(*incident.Incident) error) error {
	order, ok := SortOrders[f.Sort]
	if !ok {
		return problem.Invalidf("unknown sort %q", f.Sort)
	}
	var a args
	rows, err := t.q.QueryContext(ctx, `SELECT `+selectIncidentFor(f.PublicOnly)+` FROM incidents`+f.where(&a)+` ORDER BY `+order, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return err
		}
		if f.PublicOnly {
			inc.ForViewers()
		}
		if err := fn(inc); err != nil {
			return err
		}
	}
	return rows.Err()
}

func parseNumber(q string) (int64, error) {
	var n int64
	_, err := fmt.Sscanf(strings.TrimPrefix(q, "#"), "%d", &n)
	if err != nil || fmt.Sprint(n) != strings.TrimPrefix(q, "#") {
		return 0, errors.New("not a number")
	}
	return n, nil
}

// IncidentCount is one cell of the incidents-by-phase-and-severity gauge.
type IncidentCount struct {
	Phase    incident.Phase
	Severity incident.Severity
	Count    int
}

// IncidentCounts groups all incidents by phase and severity.
func (t *Tx) IncidentCounts(ctx context.Context) ([]IncidentCount, error) {
	// An incident merged or cancelled counts under its end state.
	rows, err := t.q.QueryContext(ctx, `SELECT COALESCE(end_state, phase), severity, count(*) FROM incidents GROUP BY COALESCE(end_state, phase), severity`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IncidentCount
	for rows.Next() {
		var c IncidentCount
		if err := rows.Scan(&c.Phase, &c.Severity, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
