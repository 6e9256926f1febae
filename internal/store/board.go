package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// BoardIncidents lists what the board shows: every incident that is not
// closed, and those closed since closedSince, newest change first. f's
// filters apply; its paging does not. Viewers (f.PublicOnly) get
// viewerUpdatedAt, and the newest change they may see first.
//
// It reads only those rows, however long the history: the open ones by
// the (phase, updated_at) index, the closed ones by the same index from
// closedSince on, since closing an incident changes it (updated_at is
// never older than closed_at).
func (t *Tx) BoardIncidents(ctx context.Context, f IncidentFilter, closedSince time.Time) ([]*incident.Incident, error) {
	var open []incident.Phase
	wantClosed := len(f.Phases) == 0
	for _, p := range f.Phases {
		if p == incident.Closed {
			wantClosed = true
		} else {
			open = append(open, p)
		}
	}
	if len(f.Phases) == 0 {
		open = incident.OwnedPhases
	}
	var list []*incident.Incident
	if len(open) > 0 {
		g := f
		g.Phases = open
		var a args
		part, err := t.incidentRows(ctx, f.PublicOnly, g.where(&a), a, SortOrders["-updated"], 0)
		if err != nil {
			return nil, err
		}
		list = part
	}
	if wantClosed {
		g := f
		g.Phases = []incident.Phase{incident.Closed}
		var a args
		cond := g.where(&a)
		since := a.add(micros(closedSince))
		cond += " AND updated_at >= " + since + " AND closed_at >= " + since
		part, err := t.incidentRows(ctx, f.PublicOnly, cond, a, SortOrders["-updated"], 0)
		if err != nil {
			return nil, err
		}
		list = append(list, part...)
	}
	slices.SortStableFunc(list, func(x, y *incident.Incident) int {
		if c := y.UpdatedAt.Compare(x.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(y.Number, x.Number)
	})
	if f.PublicOnly {
		for _, inc := range list {
			inc.ForViewers()
		}
	}
	return list, nil
}

// ChecklistProgress counts checklist items per incident, in one query;
// publicOnly counts the public ones only, so a viewer's board looks the
// same whatever internal items an incident has.
func (t *Tx) ChecklistProgress(ctx context.Context, numbers []int64, publicOnly bool) (map[int64]incident.ChecklistProgress, error) {
	out := make(map[int64]incident.ChecklistProgress, len(numbers))
	for start := 0; start < len(numbers); start += 500 {
		chunk := numbers[start:min(start+500, len(numbers))]
		var a args
		ph := make([]string, len(chunk))
		for i, n := range chunk {
			ph[i] = a.add(n)
		}
		cond := ""
		if publicOnly {
			cond = " AND visibility = 'public'"
		}
		rows, err := t.q.QueryContext(ctx, `SELECT incident_number, count(*), sum(CASE WHEN done THEN 1 ELSE 0 END)
			FROM checklist_items WHERE incident_number IN (`+strings.Join(ph, ", ")+`)`+cond+` GROUP BY incident_number`, a...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n int64
			var p incident.ChecklistProgress
			if err := rows.Scan(&n, &p.Total, &p.Done); err != nil {
				rows.Close()
				return nil, err
			}
			out[n] = p
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
