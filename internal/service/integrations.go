package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// IntegrationTokenPrefix marks integration tokens apart from user tokens.
const IntegrationTokenPrefix = "qnch_int_"

// NewIntegration is what an admin supplies for an integration.
type NewIntegration struct {
	Type string
	Name string
	// Secret is Sentry's client secret or Grafana's optional HMAC secret.
	// Sentry shows its secret only once it knows Quench's URL, so a
	// Sentry integration may be created without one and given it later
	// (SetIntegrationSecret); until then its deliveries are refused.
	Secret string
}

// CreateIntegration adds an integration and returns its bearer token, shown
// only now (empty for Sentry, which signs its bodies instead).
func (s *Service) CreateIntegration(ctx context.Context, p auth.Principal, n NewIntegration) (string, *alert.Integration, error) {
	if err := require(p, auth.Administer, "manage integrations"); err != nil {
		return "", nil, err
	}
	if !alert.ValidType(n.Type) {
		return "", nil, problem.Unprocessablef("unknown integration type %q: want %s", n.Type, strings.Join(alert.Types, ", "))
	}
	name := text.Line(n.Name, 100)
	if name == "" {
		return "", nil, problem.Unprocessablef("name is required")
	}
	secret := strings.TrimSpace(n.Secret)
	if err := checkSecret(n.Type, secret); secret != "" && err != nil {
		return "", nil, err
	}
	in := &alert.Integration{ID: strings.ToLower(auth.NewSecret("")[:12]), Type: n.Type, Name: name, Secret: secret,
		CreatedBy: p.Name(), CreatedAt: s.Now()}
	var token string
	if n.Type != alert.TypeSentry {
		token = auth.NewSecret(IntegrationTokenPrefix)
		in.TokenHash = auth.HashToken(token)
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertIntegration(ctx, in); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "integration_created", in.Name, map[string]any{"integration": in.ID, "type": in.Type})
	})
	if err != nil {
		return "", nil, err
	}
	s.log.Info("integration created", "integration", in.ID, "type", in.Type, "by", p.Name())
	return token, in, nil
}

// checkSecret refuses a signing secret an integration of type typ cannot
// take.
func checkSecret(typ, secret string) error {
	switch {
	case typ != alert.TypeSentry && typ != alert.TypeGrafana:
		return problem.Unprocessablef("only Sentry and Grafana integrations take a signing secret")
	case secret == "":
		return problem.Unprocessablef("the secret is empty")
	case len(secret) > 512:
		return problem.Unprocessablef("secret is too long")
	}
	return nil
}

// SetIntegrationSecret gives an integration its signing secret, or a new
// one: Sentry's client secret, shown by Sentry once the integration's URL
// is entered there, or Grafana's HMAC secret. The secret is never logged
// or shown again.
func (s *Service) SetIntegrationSecret(ctx context.Context, p auth.Principal, id, secret string) (*alert.Integration, error) {
	if err := require(p, auth.Administer, "manage integrations"); err != nil {
		return nil, err
	}
	secret = strings.TrimSpace(secret)
	var in *alert.Integration
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if in, err = tx.LockIntegration(ctx, id); err != nil {
			return err
		}
		if err := checkSecret(in.Type, secret); err != nil {
			return err
		}
		action := "integration_secret_set"
		if in.Secret != "" {
			action = "integration_secret_changed"
		}
		if err := tx.SetIntegrationSecret(ctx, in.ID, secret); err != nil {
			return err
		}
		in.Secret = secret
		return s.auditBy(ctx, tx, p, action, in.Name, map[string]any{"integration": in.ID, "type": in.Type})
	})
	if err != nil {
		return nil, missing(err, "integration %s not found", id)
	}
	s.log.Info("integration secret set", "integration", in.ID, "type", in.Type, "by", p.Name())
	return in, nil
}

// Integrations lists live integrations.
func (s *Service) Integrations(ctx context.Context, p auth.Principal) ([]*alert.Integration, error) {
	if err := require(p, auth.Administer, "manage integrations"); err != nil {
		return nil, err
	}
	var out []*alert.Integration
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Integrations(ctx); return err })
	return out, err
}

// DeleteIntegration retires an integration; its URL and token stop working.
func (s *Service) DeleteIntegration(ctx context.Context, p auth.Principal, id string) error {
	if err := require(p, auth.Administer, "manage integrations"); err != nil {
		return err
	}
	if id == heartbeat.Integration {
		return problem.New(problem.Conflict, "built_in", "the heartbeat integration is built in; remove heartbeats instead")
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteIntegration(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "integration_deleted", id, nil)
	})
	return missing(err, "integration %s not found", id)
}

// TestLabel marks a test alert, and the incident it opens.
const TestLabel = "quench_test"

// TestIntegration sends a test alert as if integration id had sent it,
// through the intake path and the rules: with the default rules a
// critical test alert opens an incident, anything else waits in the
// inbox. The alert carries the label quench_test="true" and says it is a
// test; an incident it opens is titled "[test] …" and labelled the same.
// Each test is a new alert (its own fingerprint and group), so it never
// joins a real incident.
func (s *Service) TestIntegration(ctx context.Context, p auth.Principal, id, severity string) (*IngestResult, *alert.Alert, error) {
	if err := require(p, auth.Administer, "manage integrations"); err != nil {
		return nil, nil, err
	}
	if severity == "" {
		severity = "critical"
	}
	if text.Line(severity, 50) != severity || strings.ContainsAny(severity, " \t") {
		return nil, nil, problem.Unprocessablef("severity must be one word, such as critical or warning")
	}
	fp := "quench-test-" + strings.ToLower(auth.NewSecret("")[:16])
	now := s.Now()
	a := alert.Alert{Fingerprint: fp, Status: alert.Firing, GroupKey: fp, StartsAt: now,
		Labels: map[string]string{"alertname": "QuenchTestAlert", "severity": severity, TestLabel: "true"},
		Annotations: map[string]string{
			"summary":     "Test alert from Quench",
			"description": fmt.Sprintf("A test alert sent by %s to check that alerts of this integration reach the inbox or an incident as the rules say. Nothing is wrong.", p.Name()),
		}}
	alert.Normalize(&a)
	alerts := []alert.Alert{a}
	enc := encodeAll(alerts)
	var res IngestResult
	var changed map[int64]bool
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		// Only senders' integrations: not the built-in sources of
		// heartbeats and customer reports.
		if in, err := tx.Integration(ctx, id); err != nil {
			return err
		} else if !alert.ValidType(in.Type) {
			return store.ErrNotFound
		}
		if res, changed, err = s.ingestTx(ctx, tx, id, Delivery{}, alerts, enc); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "integration_tested", id, map[string]any{"integration": id, "severity": severity,
			"opened": res.Opened, "attached": res.Attached})
	})
	if err != nil {
		return nil, nil, missing(err, "integration %s not found", id)
	}
	s.publishAlerts(changed, nil)
	s.log.Info("test alert sent", "integration", id, "by", p.Name(), "opened", res.Opened)
	return &res, &a, nil
}

// IsTest reports whether labels mark a test alert or incident.
func IsTest(labels map[string]string) bool { return labels[TestLabel] == "true" }

// IntegrationForIntake reads a live integration for authenticating a
// delivery; it is internal to the intake endpoint, not a use case.
func (s *Service) IntegrationForIntake(ctx context.Context, id string) (*alert.Integration, error) {
	var in *alert.Integration
	err := s.store.ReadOne(ctx, func(tx *store.Tx) (err error) { in, err = tx.Integration(ctx, id); return err })
	return in, missing(err, "no such integration")
}

// IntakeURL is where the integration's sender posts.
func IntakeURL(baseURL string, in *alert.Integration) string {
	return fmt.Sprintf("%s/api/v1/intake/%s/%s", baseURL, in.Type, in.ID)
}

// Snippet is the configuration to paste into the sender.
func Snippet(baseURL string, in *alert.Integration, token string) string {
	url := IntakeURL(baseURL, in)
	if token == "" {
		token = "<the token shown when the integration was created>"
	}
	switch in.Type {
	case alert.TypeAlertmanager:
		return fmt.Sprintf(`# alertmanager.yml: add a receiver and route alerts to it
receivers:
  - name: quench
    webhook_configs:
      - url: %s
        send_resolved: true
        # Quench takes a group of up to %d alerts whole; beyond that
        # Alertmanager sends the first %d and says how many it left out.
        max_alerts: %d
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, url, alert.MaxBatch, alert.MaxBatch, alert.MaxBatch, token)
	case alert.TypeGrafana:
		return fmt.Sprintf(`Grafana → Alerting → Contact points → New contact point
  Integration: Webhook
  URL: %s
  HTTP Method: POST
  Authorization Header - Scheme: Bearer
  Authorization Header - Credentials: %s
  (optional) HMAC Signature secret: the secret given to Quench, if any
`, url, token)
	case alert.TypeSentry:
		return fmt.Sprintf(`Sentry → Settings → Custom Integrations → Create New Integration → Internal Integration
  Webhook URL: %s
  Alert Rule Action: enabled; Webhooks: issue, error
  Save it, then copy its Client Secret into a file and give it to Quench:
    quench integration update %s --secret-file FILE
  (until then Quench refuses its deliveries with 409 secret_missing).
  Then add "Send a notification via <integration>" to your alert rules.
`, url, in.ID)
	}
	return fmt.Sprintf(`curl -X POST %s \
  -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
  -d '{"title": "Nightly backup failed", "severity": "critical", "service": "backup"}'
`, url, token)
}

// NewRule is what an admin supplies for a routing rule.
type NewRule struct {
	Position    int
	Name        string
	Matchers    string
	Action      alert.Action
	Integration string
	Severity    string
	Visibility  string
}

// Rules lists routing rules in the order they apply.
func (s *Service) Rules(ctx context.Context, p auth.Principal) ([]*alert.Rule, error) {
	if err := require(p, auth.ReadAll, "read rules"); err != nil {
		return nil, err
	}
	var out []*alert.Rule
	err := s.store.Read(ctx, func(tx *store.Tx) (err error) { out, err = tx.Rules(ctx); return err })
	return out, err
}

// CreateRule adds a routing rule.
func (s *Service) CreateRule(ctx context.Context, p auth.Principal, n NewRule) (*alert.Rule, error) {
	if err := require(p, auth.Administer, "manage rules"); err != nil {
		return nil, err
	}
	ms, err := alert.ParseMatchers(n.Matchers)
	if err != nil {
		return nil, problem.Unprocessablef("matchers: %v", err)
	}
	if !alert.ValidAction(n.Action) {
		return nil, problem.Unprocessablef("action must be open, attach or inbox")
	}
	if n.Severity != "" && incident.Severity(n.Severity).Rank() == len(incident.Severities) {
		return nil, problem.Unprocessablef("severity must be critical, major or minor")
	}
	if n.Visibility != "" && n.Visibility != string(incident.Public) && n.Visibility != string(incident.Confidential) {
		return nil, problem.Unprocessablef("visibility must be public or confidential")
	}
	r := &alert.Rule{Position: n.Position, Name: text.Line(n.Name, 200), Matchers: ms, Action: n.Action,
		Integration: n.Integration, Severity: n.Severity, Visibility: n.Visibility, CreatedAt: s.Now()}
	if r.Name == "" {
		r.Name = r.MatchersString() + " → " + string(r.Action)
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertRule(ctx, r); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "rule_created", r.Name, map[string]any{"matchers": r.MatchersString(), "action": r.Action})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// DeleteRule removes a routing rule.
func (s *Service) DeleteRule(ctx context.Context, p auth.Principal, id int64) error {
	if err := require(p, auth.Administer, "manage rules"); err != nil {
		return err
	}
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteRule(ctx, id); err != nil {
			return err
		}
		return s.auditBy(ctx, tx, p, "rule_deleted", fmt.Sprint(id), nil)
	})
	return missing(err, "rule %d not found", id)
}
