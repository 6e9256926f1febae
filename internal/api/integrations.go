package api

import (
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// IntegrationJSON describes an integration; its token appears only in the
// create answer and its signing secret never.
type IntegrationJSON struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Name        string     `json:"name"`
	URL         string     `json:"url"`
	Signed      bool       `json:"signed"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	LastAlertAt *time.Time `json:"last_alert_at,omitempty"`
	Token       string     `json:"token,omitempty"`
	Snippet     string     `json:"snippet"`
}

func (a *API) integrationJSON(in *alert.Integration, token string) IntegrationJSON {
	return IntegrationJSON{ID: in.ID, Type: in.Type, Name: in.Name, URL: service.IntakeURL(a.baseURL, in), Signed: in.Secret != "",
		CreatedBy: in.CreatedBy, CreatedAt: in.CreatedAt.UTC(), LastAlertAt: optTime(in.LastAlertAt), Token: token,
		Snippet: service.Snippet(a.baseURL, in, token)}
}

func (a *API) listIntegrations(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Integrations(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]IntegrationJSON, len(list))
	for i, in := range list {
		out[i] = a.integrationJSON(in, "")
	}
	return http.StatusOK, map[string]any{"integrations": out}, nil
}

type createIntegrationRequest struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createIntegrationRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	token, in, err := a.svc.CreateIntegration(r.Context(), p, service.NewIntegration{Type: req.Type, Name: req.Name, Secret: req.Secret})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, a.integrationJSON(in, token), nil
}

type patchIntegrationRequest struct {
	Secret *string `json:"secret"`
}

// patchIntegration sets an integration's signing secret: Sentry shows its
// client secret only after Quench's URL is entered there.
func (a *API) patchIntegration(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[patchIntegrationRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	if req.Secret == nil {
		return 0, nil, problem.Unprocessablef(`nothing to change: send {"secret": "…"}`)
	}
	in, err := a.svc.SetIntegrationSecret(r.Context(), p, r.PathValue("id"), *req.Secret)
	if err != nil {
		return 0, nil, err
	}
	a.intakeHooks.forget(in.ID)
	return http.StatusOK, a.integrationJSON(in, ""), nil
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	defer a.intakeHooks.forget(r.PathValue("id"))
	return http.StatusNoContent, nil, a.svc.DeleteIntegration(r.Context(), p, r.PathValue("id"))
}

// RuleJSON is a routing rule of API v1.
type RuleJSON struct {
	ID          int64        `json:"id"`
	Position    int          `json:"position"`
	Name        string       `json:"name"`
	Matchers    string       `json:"matchers"`
	Action      alert.Action `json:"action"`
	Integration string       `json:"integration,omitempty"`
	Severity    string       `json:"severity,omitempty"`
	Visibility  string       `json:"visibility,omitempty"`
}

func ruleJSON(r *alert.Rule) RuleJSON {
	return RuleJSON{ID: r.ID, Position: r.Position, Name: r.Name, Matchers: r.MatchersString(), Action: r.Action,
		Integration: r.Integration, Severity: r.Severity, Visibility: r.Visibility}
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Rules(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"rules": mapAll(list, ruleJSON)}, nil
}

type createRuleRequest struct {
	Position    int          `json:"position"`
	Name        string       `json:"name"`
	Matchers    string       `json:"matchers"`
	Action      alert.Action `json:"action"`
	Integration string       `json:"integration"`
	Severity    string       `json:"severity"`
	Visibility  string       `json:"visibility"`
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createRuleRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	rule, err := a.svc.CreateRule(r.Context(), p, service.NewRule{Position: req.Position, Name: req.Name, Matchers: req.Matchers,
		Action: req.Action, Integration: req.Integration, Severity: req.Severity, Visibility: req.Visibility})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, ruleJSON(rule), nil
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.DeleteRule(r.Context(), p, id)
}

type onboardRequest struct {
	Service     string `json:"service"`
	Namespace   string `json:"namespace"`
	RunbookBase string `json:"runbook_base"`
}

// OnboardingJSON is what a team pastes to bring a service's alerts in.
type OnboardingJSON struct {
	Service      string          `json:"service"`
	Namespace    string          `json:"namespace,omitempty"`
	Created      bool            `json:"created"`
	Integration  IntegrationJSON `json:"integration"`
	Alertmanager string          `json:"alertmanager"`
	Receiver     string          `json:"receiver"`
	Route        string          `json:"route"`
	Rules        string          `json:"rules"`
}

// onboard finds or creates a service's Alertmanager integration and
// answers its route, receiver and starter rules: 201 when it created the
// integration (its token is in the answer, only now), 200 when it existed.
func (a *API) onboard(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[onboardRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	o, err := a.svc.Onboard(r.Context(), p, a.baseURL, req.Service, req.Namespace, req.RunbookBase)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if o.Created {
		status = http.StatusCreated
	}
	return status, OnboardingJSON{Service: o.Service, Namespace: o.Namespace, Created: o.Created, Integration: a.integrationJSON(o.Integration, o.Token),
		Alertmanager: o.Alertmanager, Receiver: o.Receiver, Route: o.Route, Rules: o.Rules}, nil
}
