// Package api is Quench's JSON API v1 (documented in docs/openapi.yaml).
// Handlers decode, call one service use case and encode; every error goes
// through WriteError.
package api

import (
	"log/slog"
	"net/http"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/route"
	"github.com/quenchhq/quench/internal/service"
)

// API serves /api/v1.
type API struct {
	svc *service.Service
	log *slog.Logger
	// baseURL makes absolute links (incident pages, intake URLs).
	baseURL     string
	intakeHooks intakeHooks
}

// New returns the API handlers.
func New(svc *service.Service, log *slog.Logger, baseURL string) *API {
	return &API{svc: svc, log: log, baseURL: baseURL, intakeHooks: newIntakeHooks()}
}

// Routes is the API's route table; the server registers it and the access
// tests walk it, so a route missing from the access matrix fails a test.
func (a *API) Routes() []route.Route {
	return []route.Route{
		{"GET /api/v1/me", a.h(a.me)},
		{"PATCH /api/v1/me", a.h(a.patchMe)},
		{"GET /api/v1/incidents", a.h(a.listIncidents)},
		{"POST /api/v1/incidents", a.h(a.openIncident)},
		{"GET /api/v1/incidents/{number}", a.h(a.getIncident)},
		{"PATCH /api/v1/incidents/{number}", a.h(a.patchIncident)},
		{"POST /api/v1/incidents/{number}/transitions", a.h(a.transition)},
		{"POST /api/v1/incidents/{number}/merge", a.h(a.merge)},
		{"POST /api/v1/incidents/{number}/cancel", a.h(a.cancel)},
		{"GET /api/v1/incidents/{number}/timeline", a.h(a.timeline)},
		{"GET /api/v1/incidents/{number}/updates", a.h(a.listUpdates)},
		{"POST /api/v1/incidents/{number}/updates", a.h(a.postUpdate)},
		{"PATCH /api/v1/incidents/{number}/updates/{id}", a.h(a.patchUpdate)},
		{"GET /api/v1/incidents/{number}/checklist", a.h(a.listChecklist)},
		{"POST /api/v1/incidents/{number}/checklist", a.h(a.addChecklistItem)},
		{"PATCH /api/v1/incidents/{number}/checklist/{id}", a.h(a.patchChecklistItem)},
		{"DELETE /api/v1/incidents/{number}/checklist/{id}", a.h(a.deleteChecklistItem)},
		{"GET /api/v1/incidents/{number}/links", a.h(a.listLinks)},
		{"POST /api/v1/incidents/{number}/links", a.h(a.addLink)},
		{"PATCH /api/v1/incidents/{number}/links/{id}", a.h(a.patchLink)},
		{"DELETE /api/v1/incidents/{number}/links/{id}", a.h(a.deleteLink)},
		{"GET /api/v1/users", a.h(a.listUsers)},
		{"POST /api/v1/users", a.h(a.createUser)},
		{"PATCH /api/v1/users/{username}", a.h(a.patchUser)},
		{"GET /api/v1/tokens", a.h(a.listTokens)},
		{"POST /api/v1/tokens", a.h(a.createToken)},
		{"DELETE /api/v1/tokens/{id}", a.h(a.revokeToken)},
		{"GET /api/v1/incidents/{number}/attachments", a.h(a.listAttachments)},
		{"POST /api/v1/incidents/{number}/attachments", a.h(a.uploadAttachment)},
		{"GET /api/v1/attachments/{id}", a.ServeAttachment},
		{"GET /api/v1/sessions", a.h(a.listSessions)},
		{"DELETE /api/v1/sessions/{id}", a.h(a.revokeSession)},
		{"GET /api/v1/audit", a.h(a.listAudit)},
		{"POST /api/v1/intake/{type}/{id}", a.h(a.intake)},
		{"GET /api/v1/alerts", a.h(a.listAlerts)},
		{"POST /api/v1/alerts/{id}/declare", a.h(a.declare)},
		{"POST /api/v1/alerts/ack", a.h(a.ackAlerts)},
		{"POST /api/v1/alerts/dismiss", a.h(a.dismissAlerts)},
		{"POST /api/v1/alerts/unack", a.h(a.undoTriage(a.svc.UnackAlerts))},
		{"POST /api/v1/alerts/restore", a.h(a.undoTriage(a.svc.RestoreAlerts))},
		{"GET /api/v1/alerts/snoozes", a.h(a.listSnoozes)},
		{"POST /api/v1/alerts/snoozes", a.h(a.createSnooze)},
		{"DELETE /api/v1/alerts/snoozes/{id}", a.h(a.deleteSnooze)},
		{"GET /api/v1/incidents/{number}/alerts", a.h(a.incidentAlerts)},
		{"POST /api/v1/incidents/{number}/alerts", a.h(a.attachAlerts)},
		{"GET /api/v1/integrations", a.h(a.listIntegrations)},
		{"POST /api/v1/integrations", a.h(a.createIntegration)},
		{"PATCH /api/v1/integrations/{id}", a.h(a.patchIntegration)},
		{"DELETE /api/v1/integrations/{id}", a.h(a.deleteIntegration)},
		{"POST /api/v1/integrations/{id}/test", a.h(a.testIntegration)},
		{"GET /api/v1/heartbeats", a.h(a.listHeartbeats)},
		{"POST /api/v1/heartbeats", a.h(a.createHeartbeat)},
		{"GET /api/v1/heartbeats/{id}", a.h(a.getHeartbeat)},
		{"PATCH /api/v1/heartbeats/{id}", a.h(a.editHeartbeat)},
		{"POST /api/v1/heartbeats/{id}/rotate", a.h(a.rotateHeartbeat)},
		{"DELETE /api/v1/heartbeats/{id}", a.h(a.deleteHeartbeat)},
		{"GET /api/v1/ping/{key}", a.h(a.ping(heartbeat.Success))},
		{"POST /api/v1/ping/{key}", a.h(a.ping(heartbeat.Success))},
		{"GET /api/v1/ping/{key}/start", a.h(a.ping(heartbeat.Start))},
		{"POST /api/v1/ping/{key}/start", a.h(a.ping(heartbeat.Start))},
		{"GET /api/v1/ping/{key}/fail", a.h(a.ping(heartbeat.Fail))},
		{"POST /api/v1/ping/{key}/fail", a.h(a.ping(heartbeat.Fail))},
		{"POST /api/v1/onboarding", a.h(a.onboard)},
		{"GET /api/v1/rules", a.h(a.listRules)},
		{"POST /api/v1/rules", a.h(a.createRule)},
		{"DELETE /api/v1/rules/{id}", a.h(a.deleteRule)},
		{"GET /api/v1/checklist-templates", a.h(a.listTemplates)},
		{"POST /api/v1/checklist-templates", a.h(a.createTemplate)},
		{"PATCH /api/v1/checklist-templates/{id}", a.h(a.updateTemplate)},
		{"DELETE /api/v1/checklist-templates/{id}", a.h(a.deleteTemplate)},
		{"GET /api/v1/channels", a.h(a.listChannels)},
		{"POST /api/v1/channels", a.h(a.createChannel)},
		{"GET /api/v1/channels/{id}", a.h(a.getChannel)},
		{"PATCH /api/v1/channels/{id}", a.h(a.patchChannel)},
		{"DELETE /api/v1/channels/{id}", a.h(a.deleteChannel)},
		{"POST /api/v1/channels/{id}/test", a.h(a.testChannel)},
		{"GET /api/v1/deliveries", a.h(a.listDeliveries)},
		{"POST /api/v1/deliveries/{id}/retry", a.h(a.retryDelivery)},
		{"GET /api/v1/review", a.agenda},
		{"GET /api/v1/reviews", a.h(a.listReviews)},
		{"POST /api/v1/reviews", a.h(a.recordReview)},
		{"GET /api/v1/reviews/{id}", a.h(a.getReview)},
		{"GET /api/v1/review/schedule", a.h(a.getSchedule)},
		{"PUT /api/v1/review/schedule", a.h(a.putSchedule)},
		{"DELETE /api/v1/review/schedule", a.h(a.deleteSchedule)},
		{"GET /api/v1/insights", a.h(a.insights)},
		{"GET /api/v1/log", a.ServeLog},
		{"GET /api/v1/components", a.h(a.listComponents)},
		{"POST /api/v1/components", a.h(a.createComponent)},
		{"PATCH /api/v1/components/{id}", a.h(a.patchComponent)},
		{"DELETE /api/v1/components/{id}", a.h(a.deleteComponent)},
		{"GET /api/v1/maintenance", a.h(a.listMaintenance)},
		{"POST /api/v1/maintenance", a.h(a.createMaintenance)},
		{"DELETE /api/v1/maintenance/{id}", a.h(a.deleteMaintenance)},
		{"GET /api/v1/subscribers", a.h(a.listSubscribers)},
		{"DELETE /api/v1/subscribers/{id}", a.h(a.deleteSubscriber)},
	}
}

// handler is an API endpoint: it returns the status and body to send, or
// an error for WriteError.
type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error)

func (a *API) h(fn handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body, err := fn(w, r, auth.From(r.Context()))
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	}
}

// decode reads a strict JSON body into a new T.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	err := decodeJSON(w, r, &v)
	return v, err
}
