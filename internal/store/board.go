package store

import (
	"context"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
)

// BoardIncidents lists what the board shows: every incident that is not
// closed, and those closed since closedSince, newest change first within
// each phase. f's filters apply; its paging does not.
func (t *Tx) BoardIncidents(ctx context.Context, f IncidentFilter, closedSince time.Time) ([]*incident.Incident, error) {
	f.Limit, f.Offset, f.Sort = 100000, 0, "-updated"
	f.closedSince = closedSince
	list, _, err := t.Incidents(ctx, f)
	return list, err
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
