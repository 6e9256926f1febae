package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/intake/alertmanager"
	"github.com/quenchhq/quench/internal/intake/generic"
	"github.com/quenchhq/quench/internal/intake/grafana"
	"github.com/quenchhq/quench/internal/intake/sentry"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// IntakePrefix is where senders post; these routes authenticate per
// integration, not with user tokens.
const IntakePrefix = "/api/v1/intake/"

var (
	errIntakeAuth    = problem.New(problem.Unauthenticated, "unauthenticated", "missing or wrong integration token")
	errNoIntegration = problem.New(problem.NotFound, "not_found", "no such integration")
)

// intake receives one delivery: authenticate, parse, store, answer. The 2xx
// answer comes only after the alerts are committed; storage trouble is a
// 503 with Retry-After, which Alertmanager and Grafana retry.
func (a *API) intake(w http.ResponseWriter, r *http.Request, _ auth.Principal) (int, any, error) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !alert.ValidType(typ) {
		return 0, nil, errNoIntegration
	}
	in, err := a.svc.IntegrationForIntake(r.Context(), id)
	if problem.Is(err, "not_found") || (err == nil && in.Type != typ) {
		return 0, nil, errNoIntegration
	}
	if err != nil {
		return 0, nil, err
	}
	body, err := readBody(w, r, MaxIntakeBody)
	if err != nil {
		return 0, nil, err
	}
	if err := a.authenticateIntake(r, in, body); err != nil {
		return 0, nil, err
	}
	var alerts []alert.Alert
	var delivery string
	switch typ {
	case alert.TypeAlertmanager:
		alerts, err = alertmanager.Parse(body)
	case alert.TypeGrafana:
		alerts, err = grafana.Parse(body)
	case alert.TypeSentry:
		alerts, err = sentry.Parse(r.Header.Get(sentry.ResourceHeader), body)
		delivery = strings.TrimSpace(r.Header.Get(sentry.RequestIDHeader))
		if len(delivery) > 200 {
			delivery = delivery[:200]
		}
	case alert.TypeGeneric:
		alerts, err = generic.Parse(body)
	}
	if err != nil {
		return 0, nil, parseProblem(err)
	}
	res, err := a.svc.Ingest(r.Context(), in.ID, delivery, alerts)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, res, nil
}

func parseProblem(err error) error {
	var inv *alert.InvalidError
	if errors.As(err, &inv) {
		return problem.New(problem.Invalid, "invalid_payload", "%s", inv.Msg)
	}
	return err
}

// authenticateIntake accepts, per integration type: Sentry's body
// signature; Grafana's HMAC signature when a secret is set; otherwise the
// integration's token as bearer token or basic-auth password (both offered
// by Alertmanager's http_config), or a user token with the ingest scope.
func (a *API) authenticateIntake(r *http.Request, in *alert.Integration, body []byte) error {
	switch {
	case in.Type == alert.TypeSentry:
		if err := sentry.Verify(body, in.Secret, r.Header.Get(sentry.SignatureHeader)); err != nil {
			return problem.Wrap(problem.Unauthenticated, "bad_signature", err, "the Sentry-Hook-Signature does not match the body")
		}
		return nil
	case in.Type == alert.TypeGrafana && in.Secret != "":
		if err := grafana.VerifySignature(body, in.Secret, r.Header, time.Now()); err != nil {
			return problem.Wrap(problem.Unauthenticated, "bad_signature", err, "the Grafana HMAC signature does not match the body")
		}
		return nil
	}
	secret := ""
	if user, pass, ok := r.BasicAuth(); ok {
		secret = pass
		if pass == "" {
			secret = user
		}
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		secret = strings.TrimSpace(tok)
	}
	switch {
	case secret == "":
		return errIntakeAuth
	case strings.HasPrefix(secret, service.IntegrationTokenPrefix):
		if in.TokenHash != "" && subtle.ConstantTimeCompare([]byte(auth.HashToken(secret)), []byte(in.TokenHash)) == 1 {
			return nil
		}
		return errIntakeAuth
	}
	p, err := a.svc.AuthenticateToken(r.Context(), secret)
	if err != nil || !p.Can(auth.Ingest) {
		return errIntakeAuth
	}
	return nil
}

// AlertJSON is a stored alert of API v1.
type AlertJSON struct {
	ID          int64             `json:"id"`
	Integration string            `json:"integration"`
	Fingerprint string            `json:"fingerprint"`
	Status      alert.Status      `json:"status"`
	Title       string            `json:"title"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Links       []alert.Link      `json:"links"`
	GroupKey    string            `json:"group_key"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      *time.Time        `json:"ends_at,omitempty"`
	FirstSeen   time.Time         `json:"first_seen"`
	LastSeen    time.Time         `json:"last_seen"`
	Received    int64             `json:"received"`
	Incident    int64             `json:"incident,omitempty"`
}

func alertJSON(r *alert.Record) AlertJSON {
	j := AlertJSON{ID: r.ID, Integration: r.IntegrationID, Fingerprint: r.Fingerprint, Status: r.Status, Title: r.Title,
		Labels: r.Labels, Annotations: r.Annotations, Links: r.Links, GroupKey: r.GroupKey, StartsAt: r.StartsAt.UTC(),
		EndsAt: optTime(r.EndsAt), FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC(), Received: r.Received, Incident: r.Incident}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	if j.Links == nil {
		j.Links = []alert.Link{}
	}
	return j
}

var alertParams = []string{"status", "integration", "unattached", "match", "limit", "offset"}

func (a *API) listAlerts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q, err := strictQuery(r, alertParams)
	if err != nil {
		return 0, nil, err
	}
	var aq service.AlertQuery
	switch s := q.Get("status"); s {
	case "", "firing", "resolved":
		aq.Status = alert.Status(s)
	default:
		return 0, nil, problem.Invalidf("status must be firing or resolved")
	}
	aq.Integration = q.Get("integration")
	switch q.Get("unattached") {
	case "", "false":
	case "true", "1":
		aq.Unattached = true
	default:
		return 0, nil, problem.Invalidf("unattached must be true or false")
	}
	for _, m := range q["match"] {
		ms, err := alert.ParseMatchers(m)
		if err != nil {
			return 0, nil, problem.Invalidf("match: %v", err)
		}
		aq.Matchers = append(aq.Matchers, ms...)
	}
	if aq.Limit, err = queryInt(q, "limit", 100, 1, 1000); err != nil {
		return 0, nil, err
	}
	if aq.Offset, err = queryInt(q, "offset", 0, 0, 1<<30); err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Alerts(r.Context(), p, aq)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON)}, nil
}

type declareRequest struct {
	Alerts     []int64             `json:"alerts"`
	Title      string              `json:"title"`
	Summary    string              `json:"summary"`
	Severity   incident.Severity   `json:"severity"`
	Services   []string            `json:"services"`
	Visibility incident.Visibility `json:"visibility"`
}

func (a *API) declare(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[declareRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	ids := append([]int64{id}, req.Alerts...)
	inc, err := a.svc.DeclareIncident(r.Context(), p, dedupIDs(ids), incident.Draft{Title: req.Title, Summary: req.Summary,
		Severity: req.Severity, Services: req.Services, Visibility: req.Visibility})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, a.incidentJSON(inc), nil
}

func dedupIDs(ids []int64) []int64 {
	out := ids[:0:0]
	seen := map[int64]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

type attachRequest struct {
	Alerts []int64 `json:"alerts"`
}

func (a *API) attachAlerts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	req, err := decode[attachRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := a.svc.AttachAlerts(r.Context(), p, n, dedupIDs(req.Alerts))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.incidentJSON(inc), nil
}

func (a *API) incidentAlerts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, err := pathInt(r, "number")
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.IncidentAlerts(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON)}, nil
}
