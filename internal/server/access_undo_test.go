package server_test

import (
	"context"
	"fmt"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/service"
)

// undoRows are the rows of taking triage back: the team's, like the
// triage itself. The fixture's alert 2 is acknowledged and dismissed.
func undoRows(f *fixture) map[string]cell {
	ctx := context.Background()
	_, err := f.app.Svc.Ingest(ctx, f.integration, "", []alert.Alert{{Fingerprint: "undo-me", Status: alert.Firing, Title: "undo me",
		Labels: map[string]string{"alertname": "UndoMe"}}})
	if err != nil {
		panic(err) // rows have no *testing.T; the panic fails the test
	}
	list, err := f.app.Svc.Alerts(ctx, service.System, service.AlertQuery{Limit: 10})
	if err != nil {
		panic(err)
	}
	var id int64
	for _, r := range list {
		if r.Fingerprint == "undo-me" {
			id = r.ID
		}
	}
	if _, err := f.app.Svc.AckAlerts(ctx, service.System, []int64{id}); err != nil {
		panic(err)
	}
	if _, err := f.app.Svc.DismissAlerts(ctx, service.System, []int64{id}, "noise"); err != nil {
		panic(err)
	}
	body := map[string]any{"alerts": []int64{id}}
	form := fmt.Sprintf("alert=%d", id)
	return map[string]cell{
		"POST /api/v1/alerts/unack":   {"POST", "/api/v1/alerts/unack", body, false, write(200)},
		"POST /api/v1/alerts/restore": {"POST", "/api/v1/alerts/restore", body, false, write(200)},
		"POST /alerts/unack":          {"POST", "/alerts/unack", form, true, write(303)},
		"POST /alerts/restore":        {"POST", "/alerts/restore", form, true, write(303)},
	}
}
