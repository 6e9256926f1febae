package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/review"
)

// countedIncidents is the one condition that decides which incidents the
// insights (times to mitigate, resolve and close, shares, services) and
// the phase-duration metrics count: every incident but those that ended
// as no disruption of their own (merged into another, cancelled). They
// are left out here, and nowhere else.
const countedIncidents = `end_state IS NULL`

// Period selects the incidents opened in [Since, Until) that count;
// PublicOnly keeps public ones only.
type Period struct {
	Since, Until time.Time
	PublicOnly   bool
}

func (p Period) where(a *args) string {
	w := " WHERE created_at >= " + a.add(micros(p.Since)) + " AND created_at < " + a.add(micros(p.Until)) + " AND " + countedIncidents
	if p.PublicOnly {
		w += " AND visibility = " + a.add(string(incident.Public))
	}
	return w
}

// EachFact calls fn for every incident of p, in no particular order: the
// one pass the insights are computed in.
func (t *Tx) EachFact(ctx context.Context, p Period, fn func(review.Fact)) error {
	var a args
	rows, err := t.q.QueryContext(ctx, `SELECT severity, detection_source, created_at, mitigated_at, resolved_at, closed_at
		FROM incidents`+p.where(&a), a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			f       review.Fact
			created int64
			m, r, c sql.NullInt64
		)
		if err := rows.Scan(&f.Severity, &f.Source, &created, &m, &r, &c); err != nil {
			return err
		}
		f.CreatedAt, f.Mitigated, f.Resolved, f.Closed = fromMicros(created), fromNullMicros(m), fromNullMicros(r), fromNullMicros(c)
		fn(f)
	}
	return rows.Err()
}

// ServiceCounts counts p's incidents per service, most first.
func (t *Tx) ServiceCounts(ctx context.Context, p Period) ([]review.Count, error) {
	var a args
	return values(collect(func(row scanner) (*review.Count, error) {
		var c review.Count
		return &c, row.Scan(&c.Name, &c.Incidents)
	})(t.q.QueryContext(ctx, `SELECT s.service, count(*) FROM incident_services s
		JOIN incidents ON incidents.number = s.incident_number`+p.where(&a)+`
		GROUP BY s.service ORDER BY count(*) DESC, s.service`, a...)))
}

// values turns collect's pointers into values, never nil.
func values[T any](list []*T, err error) ([]T, error) {
	out := make([]T, len(list))
	for i, v := range list {
		out[i] = *v
	}
	return out, err
}

// AlertCounts counts the alerts first seen in [since, until) and those of
// them that are part of an incident.
func (t *Tx) AlertCounts(ctx context.Context, since, until time.Time) (all, attached int, err error) {
	err = t.q.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(CASE WHEN incident_number IS NULL THEN 0 ELSE 1 END), 0)
		FROM alerts WHERE first_seen >= $1 AND first_seen < $2`, micros(since), micros(until)).Scan(&all, &attached)
	return all, attached, err
}

// AlertNames groups the alerts first seen in [since, until) by alertname
// (the column: the title when an alert has no alertname label), the most
// first, at most limit;
// unattachedOnly keeps the alerts that are part of no incident.
func (t *Tx) AlertNames(ctx context.Context, since, until time.Time, unattachedOnly bool, limit int) ([]review.AlertName, error) {
	q := `SELECT alertname, count(*), COALESCE(SUM(CASE WHEN incident_number IS NULL THEN 1 ELSE 0 END), 0)
		FROM alerts WHERE first_seen >= $1 AND first_seen < $2`
	if unattachedOnly {
		q += ` AND incident_number IS NULL`
	}
	q += ` GROUP BY alertname ORDER BY count(*) DESC, alertname LIMIT $3`
	return values(collect(func(row scanner) (*review.AlertName, error) {
		var n review.AlertName
		return &n, row.Scan(&n.Name, &n.Alerts, &n.Unattached)
	})(t.q.QueryContext(ctx, q, micros(since), micros(until), limit)))
}

// leading scans extra columns before an incident's.
type leading struct {
	row   scanner
	extra []any
}

func (l leading) Scan(dest ...any) error { return l.row.Scan(append(l.extra, dest...)...) }

// PhaseChanges lists the transitions and reopens of [since, until),
// oldest first, each with its incident as it is now.
func (t *Tx) PhaseChanges(ctx context.Context, since, until time.Time) ([]review.PhaseChange, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT e.at, e.actor, e.kind, e.data, `+selectIncident("i")+`
		FROM events e JOIN incidents i ON i.number = e.incident_number
		WHERE e.kind IN ('transitioned', 'reopened') AND e.at >= $1 AND e.at < $2 ORDER BY e.at, e.id`, micros(since), micros(until))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []review.PhaseChange{}
	for rows.Next() {
		var (
			at          int64
			actor, kind string
			data        string
		)
		inc, err := scanIncident(leading{rows, []any{&at, &actor, &kind, &data}})
		if err != nil {
			return nil, err
		}
		var d struct{ From, To, Note, Reason string }
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("event data: %w", err)
		}
		c := review.PhaseChange{Incident: review.NewItem(inc), At: fromMicros(at), Actor: actor, From: incident.Phase(d.From),
			To: incident.Phase(d.To), Note: d.Note, Reopen: kind == string(incident.EventReopened)}
		if c.Reopen {
			c.Note = d.Reason
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OpenChecklist lists the open checklist items of incidents that are not
// closed, by owner (nobody's first), incident and item.
func (t *Tx) OpenChecklist(ctx context.Context) ([]*incident.ChecklistItem, error) {
	return collect(func(row scanner) (*incident.ChecklistItem, error) {
		var it incident.ChecklistItem
		var owner sql.NullString
		err := row.Scan(&it.Incident, &it.ID, &it.Text, &it.Phase, &owner)
		it.Owner = owner.String
		return &it, err
	})(t.q.QueryContext(ctx, `SELECT incident_number, id, text, phase, owner FROM checklist_items
		WHERE NOT done AND incident_number IN (SELECT number FROM incidents WHERE phase IN ('active', 'mitigated', 'resolved') AND end_state IS NULL)
		ORDER BY COALESCE(owner, ''), incident_number, id`))
}

// DetectionCounts counts the incidents that count by detection source.
func (t *Tx) DetectionCounts(ctx context.Context) (map[incident.Source]int, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT detection_source, count(*) FROM incidents WHERE `+countedIncidents+` GROUP BY detection_source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[incident.Source]int{}
	for rows.Next() {
		var s incident.Source
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// Histogram is a cumulative histogram: Counts[i] observations at most
// Bounds[i], Count in all, Sum of them.
type Histogram struct {
	Bounds []time.Duration
	Counts []uint64
	Count  uint64
	Sum    time.Duration
}

// phaseStint is how long an incident stayed in a phase it has left: from
// its (last) entry to the entry of the next.
var phaseStint = map[incident.Phase][2]string{
	incident.Active:    {"active_at", "mitigated_at"},
	incident.Mitigated: {"mitigated_at", "resolved_at"},
	incident.Resolved:  {"resolved_at", "closed_at"},
}

// PhaseDurations histograms, per severity, how long the incidents that
// count stayed in phase before entering the next one.
func (t *Tx) PhaseDurations(ctx context.Context, phase incident.Phase, bounds []time.Duration) (map[incident.Severity]*Histogram, error) {
	cols, ok := phaseStint[phase]
	if !ok {
		return nil, fmt.Errorf("phase %s has no stint", phase)
	}
	d := cols[1] + " - " + cols[0]
	var a args
	var sel strings.Builder
	for _, b := range bounds {
		fmt.Fprintf(&sel, ", COALESCE(SUM(CASE WHEN %s <= %s THEN 1 ELSE 0 END), 0)", d, a.add(b.Microseconds()))
	}
	rows, err := t.q.QueryContext(ctx, `SELECT severity, count(*), CAST(COALESCE(SUM(`+d+`), 0) AS BIGINT)`+sel.String()+`
		FROM incidents WHERE `+cols[1]+` IS NOT NULL AND `+cols[1]+` >= `+cols[0]+` AND `+countedIncidents+` GROUP BY severity`, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[incident.Severity]*Histogram{}
	for rows.Next() {
		h := &Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds))}
		var sev incident.Severity
		var sum int64
		dest := []any{&sev, &h.Count, &sum}
		for i := range h.Counts {
			dest = append(dest, &h.Counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		h.Sum = time.Duration(sum) * time.Microsecond
		out[sev] = h
	}
	return out, rows.Err()
}
