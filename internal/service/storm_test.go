package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/intake/alertmanager"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// stormBody is an Alertmanager webhook of n new critical alerts of one
// group, numbered from first.
func stormBody(first, n int) []byte {
	alerts := make([]map[string]any, n)
	for i := range alerts {
		labels := map[string]string{"alertname": "BackendDown", "service": "api", "severity": "critical",
			"instance": fmt.Sprintf("api-%05d:8080", first+i)}
		alerts[i] = map[string]any{"status": "firing", "labels": labels, "annotations": map[string]string{"summary": "backend down"},
			"startsAt": "2026-11-30T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": alert.Fingerprint(labels)}
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "quench", "alerts": alerts,
		"groupKey": `{}:{alertname="BackendDown", service="api"}`, "truncatedAlerts": 0})
	return b
}

// An alert storm: 20,000 critical alerts of one group, posted in batches
// of 100, all join the incident the first opened; and the work each batch
// asks of the database does not grow with the alerts already attached.
// Work is counted, not timed: statements, and what they read (pages on
// SQLite, rows on PostgreSQL), which grows with the rows any statement
// goes through: re-reading an incident's alerts per batch, as intake once
// did to refresh the "alerts resolved" hint, made the last thousand read
// six times (SQLite) and twenty times (PostgreSQL) what the first did.
func TestStormWorkPerBatchIsConstant(t *testing.T) {
	const total, batch = 20000, 100
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		st.TrackReads()
		svc := service.New(st, service.Options{Now: func() time.Time { return time.Date(2026, 11, 30, 10, 1, 0, 0, time.UTC) }})
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		work := make([]store.Work, 0, total/batch)
		for first := 0; first < total; first += batch {
			alerts, err := alertmanager.Parse(stormBody(first, batch))
			if err != nil {
				t.Fatal(err)
			}
			before := st.Work()
			res, err := svc.Ingest(ctx, in.ID, "", alerts)
			if err != nil {
				t.Fatal(err)
			}
			after := st.Work()
			work = append(work, store.Work{Statements: after.Statements - before.Statements, Reads: after.Reads - before.Reads})
			if first == 0 && (fmt.Sprint(res.Opened) != "[1]" || res.New != batch) {
				t.Fatalf("first batch: %+v", res)
			}
			if first > 0 && (fmt.Sprint(res.Attached) != "[1]" || len(res.Opened) != 0 || res.New != batch) {
				t.Fatalf("batch at %d: %+v", first, res)
			}
		}
		sum, err := svc.IncidentAlertSummary(ctx, service.System, 1)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Attached != total || sum.Firing != total {
			t.Fatalf("incident #1 holds %+v, want %d attached and firing", sum, total)
		}
		// The first thousand alerts (after the batch that opened the
		// incident) against the last thousand.
		sumOf := func(ws []store.Work) (w store.Work) {
			for _, x := range ws {
				w.Statements += x.Statements
				w.Reads += x.Reads
			}
			return w
		}
		early, late := sumOf(work[1:11]), sumOf(work[len(work)-10:])
		t.Logf("work of 10 batches of %d: first thousand %+v, last thousand %+v", batch, early, late)
		if late.Statements > 2*early.Statements {
			t.Errorf("statements grew from %d to %d", early.Statements, late.Statements)
		}
		if late.Reads > 2*early.Reads {
			t.Errorf("reads grew from %d to %d", early.Reads, late.Reads)
		}
		if early.Reads == 0 {
			t.Error("no reads counted")
		}
	})
}
