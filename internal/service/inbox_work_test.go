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

// inboxBody is an Alertmanager webhook of n new warnings of group g, the
// inbox path: no rule pages them.
func inboxBody(g, n int) []byte {
	alerts := make([]map[string]any, n)
	for i := range alerts {
		labels := map[string]string{"alertname": "HighLatency", "service": "api", "severity": "warning",
			"group": fmt.Sprintf("g%d", g), "instance": fmt.Sprintf("api-%d:8080", i)}
		alerts[i] = map[string]any{"status": "firing", "labels": labels, "annotations": map[string]string{"summary": "slow"},
			"startsAt": "2026-12-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": alert.Fingerprint(labels)}
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "quench", "alerts": alerts,
		"groupKey": fmt.Sprintf(`{}:{group="g%d"}`, g), "truncatedAlerts": 0})
	return b
}

// A delivery of new alerts into the inbox asks the same few statements of
// the database however many alerts are stored, none of them per alert: on
// SQLite reading the integration and the rules, one INSERT for all its
// alerts, and the inbox count. Counted, not timed.
func TestInboxDeliveryStatementsAreFewAndConstant(t *testing.T) {
	const deliveries, batch = 200, 10
	testenv.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := service.New(st, service.Options{Now: func() time.Time { return time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC) }})
		_, in, err := svc.CreateIntegration(ctx, service.System, service.NewIntegration{Type: "alertmanager", Name: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[int64]int{}
		for g := range deliveries {
			alerts, err := alertmanager.Parse(inboxBody(g, batch))
			if err != nil {
				t.Fatal(err)
			}
			before := st.Work().Statements
			res, err := svc.Ingest(ctx, in.ID, "", alerts)
			if err != nil {
				t.Fatal(err)
			}
			if res.New != batch || len(res.Opened)+len(res.Attached) != 0 {
				t.Fatalf("delivery %d: %+v", g, res)
			}
			if g > 0 { // the first loads what later ones find loaded
				counts[st.Work().Statements-before]++
			}
		}
		t.Logf("statements per %d-alert inbox delivery: %v", batch, counts)
		if len(counts) != 1 {
			t.Errorf("statements per delivery varied: %v", counts)
		}
		for n := range counts {
			if st.Dialect() == store.SQLite && n > 4 {
				t.Errorf("a %d-alert inbox delivery ran %d statements, want at most 4", batch, n)
			}
		}
	})
}
