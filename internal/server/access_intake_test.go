package server_test

import (
	"context"

	"github.com/quenchhq/quench/internal/service"
)

// intakeRows: an integration's signing secret is an admin's to set. Each
// fixture gets a Sentry integration still waiting for its secret.
func intakeRows(f *fixture) map[string]cell {
	_, in, err := f.app.Svc.CreateIntegration(context.Background(), service.System, service.NewIntegration{Type: "sentry", Name: "sentry waiting"})
	if err != nil {
		panic(err) // rows have no *testing.T; the panic fails the test
	}
	return map[string]cell{
		"PATCH /api/v1/integrations/{id}": {"PATCH", "/api/v1/integrations/" + in.ID, map[string]any{"secret": "sentry-client-secret"}, false, adminOnly(200)},
	}
}
