package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
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
	errIntakeAuth    = problem.New(problem.Unauthenticated, "unauthenticated", "missing or wrong token: send the integration's token, or a user token with the ingest scope")
	errNoIntegration = problem.New(problem.NotFound, "not_found", "no such integration")
)

// intake receives one delivery: authenticate, parse, store, answer. The 2xx
// answer comes only after the alerts are committed; storage trouble is a
// 503 with Retry-After, which Alertmanager and Grafana retry.
func (a *API) intake(w http.ResponseWriter, r *http.Request, _ auth.Principal) (int, any, error) {
	start := time.Now()
	out := IntakeOutcome{Type: r.PathValue("type")}
	res, err := a.deliver(w, r, &out)
	if obs := a.intakeHooks.observer; obs != nil {
		out.Took = time.Since(start)
		if p, ok := problem.As(err); ok {
			out.Code = p.Code
		} else if err != nil {
			out.Code = "internal"
		}
		if !alert.ValidType(out.Type) {
			out.Type = "unknown"
		}
		obs(out)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, res, nil
}

// bigIntake is the body size from which deliveries are parsed one at a
// time: a group of thousands of alerts is decoded whole, and several at
// once would multiply the memory that takes.
const bigIntake = 1 << 20

func (a *API) deliver(w http.ResponseWriter, r *http.Request, out *IntakeOutcome) (*service.IngestResult, error) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !alert.ValidType(typ) {
		return nil, errNoIntegration
	}
	in, err := a.intakeHooks.integration(r.Context(), a.svc, id)
	if problem.Is(err, "not_found") || (err == nil && in.Type != typ) {
		return nil, errNoIntegration
	}
	if err != nil {
		return nil, err
	}
	// A token is checked before the body is read, so a sender without one
	// cannot make the server read and hold up to MaxIntakeBody, nor take
	// the turn of a big body. Only a signature needs the body first.
	signed := bodySigned(in)
	early := secretMissing(in)
	if !signed {
		early = a.authenticateToken(r, in)
	}
	if early != nil {
		// Closing the connection spares the body too: to keep the
		// connection, net/http would first read up to 256 KiB of it,
		// waiting as long as the sender takes, and answer only then.
		w.Header().Set("Connection", "close")
		return nil, early
	}
	if r.ContentLength < 0 || r.ContentLength > bigIntake {
		release, err := a.intakeHooks.admitBig(r.Context())
		if err != nil {
			return nil, err
		}
		defer release()
	}
	var buf []byte
	if typ == alert.TypeAlertmanager && r.ContentLength > 0 && r.ContentLength < pooledBody {
		// Alertmanager's parser copies what it keeps out of the body, so
		// the buffer serves the next delivery once this one is answered.
		if p, ok := a.intakeHooks.bodies.Get().(*[]byte); ok {
			buf = *p
		}
		defer func() {
			if cap(buf) > 0 && cap(buf) <= pooledBody {
				buf = buf[:0]
				a.intakeHooks.bodies.Put(&buf)
			}
		}()
	}
	body, err := readBodyInto(w, r, MaxIntakeBody, buf)
	if err != nil {
		return nil, err
	}
	buf = body
	if signed {
		if err := a.verifySignature(r, in, body); err != nil {
			return nil, err
		}
	}
	var alerts []alert.Alert
	var d service.Delivery
	switch typ {
	case alert.TypeAlertmanager:
		alerts, err = alertmanager.Parse(body)
	case alert.TypeGrafana:
		alerts, err = grafana.Parse(body)
	case alert.TypeSentry:
		alerts, err = sentry.Parse(r.Header.Get(sentry.ResourceHeader), body)
		d.ID = strings.TrimSpace(r.Header.Get(sentry.RequestIDHeader))
		if len(d.ID) > 200 {
			d.ID = d.ID[:200]
		}
		// Sentry signs the body but not its time: the same body under a
		// new Request-ID is a replay.
		sum := sha256.Sum256(body)
		d.Digest = hex.EncodeToString(sum[:])
	case alert.TypeGeneric:
		alerts, err = generic.Parse(body)
	}
	if err != nil {
		return nil, parseProblem(err)
	}
	res, err := a.svc.IngestDelivery(r.Context(), in.ID, d, alerts)
	if err != nil {
		return nil, err
	}
	if !res.Replayed {
		for _, al := range alerts {
			if al.Status == alert.Firing {
				out.Firing++
			} else {
				out.Resolved++
			}
		}
	}
	return res, nil
}

// IntakeOutcome is what one delivery to the intake endpoints came to.
type IntakeOutcome struct {
	// Type is the integration type the URL names ("unknown" when it names
	// none).
	Type string
	// Firing and Resolved count the alerts stored.
	Firing, Resolved int
	// Code is the error code of a refusal, "" when the alerts were stored.
	Code string
	Took time.Duration
}

// intakeHooks is the intake endpoint's state beyond the service.
type intakeHooks struct {
	observer func(IntakeOutcome)
	big      chan struct{}
	known    *knownIntegrations
	// bodies are buffers of Alertmanager deliveries' bodies, reused: a
	// body each request was a tenth of the server's allocations.
	bodies *sync.Pool
}

// pooledBody bounds the bodies read into reused buffers.
const pooledBody = 64 << 10

func newIntakeHooks() intakeHooks {
	return intakeHooks{big: make(chan struct{}, 1), known: &knownIntegrations{m: map[string]knownIntegration{}}, bodies: &sync.Pool{}}
}

// knownIntegrations keeps the integrations deliveries were authenticated
// for during the last second: reading one was a tenth of an intake
// request's own work. Ingest checks again in its transaction that the
// integration is live, so a deletion is never missed; a new secret set
// elsewhere (another replica, the CLI) takes effect within the second.
type knownIntegrations struct {
	mu sync.Mutex
	m  map[string]knownIntegration
}

type knownIntegration struct {
	in *alert.Integration
	at time.Time
}

// knownFor is how long a read integration is used.
const knownFor = time.Second

func (h *intakeHooks) integration(ctx context.Context, svc *service.Service, id string) (*alert.Integration, error) {
	k := h.known
	now := time.Now()
	k.mu.Lock()
	e, ok := k.m[id]
	k.mu.Unlock()
	if ok && now.Sub(e.at) < knownFor {
		return e.in, nil
	}
	in, err := svc.IntegrationForIntake(ctx, id)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.m) >= 1000 {
		clear(k.m)
	}
	k.m[id] = knownIntegration{in, now}
	k.mu.Unlock()
	return in, nil
}

// forget drops an integration changed here, so this replica uses the
// change at once.
func (h *intakeHooks) forget(id string) {
	h.known.mu.Lock()
	delete(h.known.m, id)
	h.known.mu.Unlock()
}

// ObserveIntake has fn called with the outcome of every delivery; the
// server counts them on /metrics. Call it before serving.
func (a *API) ObserveIntake(fn func(IntakeOutcome)) { a.intakeHooks.observer = fn }

// admitBig waits for the turn of a big body, as long as the sender waits.
func (h *intakeHooks) admitBig(ctx context.Context) (release func(), err error) {
	select {
	case h.big <- struct{}{}:
		return func() { <-h.big }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func parseProblem(err error) error {
	var inv *alert.InvalidError
	if errors.As(err, &inv) {
		return problem.New(problem.Invalid, "invalid_payload", "%s", inv.Msg)
	}
	return err
}

// bodySigned reports whether deliveries to in are authenticated by a
// signature over their body: always Sentry's, Grafana's when a secret is
// set. Every other delivery carries a token.
func bodySigned(in *alert.Integration) bool {
	return in.Type == alert.TypeSentry || (in.Type == alert.TypeGrafana && in.Secret != "")
}

// secretMissing refuses a delivery to a Sentry integration that has no
// client secret yet, before its body is read: no signature could be
// checked.
func secretMissing(in *alert.Integration) error {
	if in.Type != alert.TypeSentry || in.Secret != "" {
		return nil
	}
	return problem.New(problem.Conflict, "secret_missing", "this Sentry integration has no client secret yet: "+
		"give it the one Sentry shows (quench integration update %s --secret-file FILE, or PATCH /api/v1/integrations/%s)", in.ID, in.ID)
}

// verifySignature checks the signature of a delivery to an integration
// that bodySigned says is signed.
func (a *API) verifySignature(r *http.Request, in *alert.Integration, body []byte) error {
	if in.Type == alert.TypeGrafana {
		if err := grafana.VerifySignature(body, in.Secret, r.Header, time.Now()); err != nil {
			return problem.Wrap(problem.Unauthenticated, "bad_signature", err, "the Grafana HMAC signature does not match the body")
		}
		return nil
	}
	if err := sentry.Verify(body, in.Secret, r.Header.Get(sentry.SignatureHeader)); err != nil {
		return problem.Wrap(problem.Unauthenticated, "bad_signature", err, "the Sentry-Hook-Signature does not match the body")
	}
	if err := sentry.CheckTimestamp(r.Header.Get(sentry.TimestampHeader), a.svc.Now()); err != nil {
		return problem.Wrap(problem.Unauthenticated, "stale_delivery", err, "%s", err.Error())
	}
	return nil
}

// authenticateToken accepts the integration's token as bearer token or
// basic-auth password (both offered by Alertmanager's http_config), or a
// user token with the ingest scope.
func (a *API) authenticateToken(r *http.Request, in *alert.Integration) error {
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
	// Truncated counts the alerts of its group the sender left out of the
	// delivery that last carried this one (Alertmanager's max_alerts).
	Truncated int `json:"truncated_alerts,omitempty"`
	// Triage: who acknowledged or dismissed the alert, when, and why.
	AckedBy       string     `json:"acked_by,omitempty"`
	AckedAt       *time.Time `json:"acked_at,omitempty"`
	DismissedBy   string     `json:"dismissed_by,omitempty"`
	DismissedAt   *time.Time `json:"dismissed_at,omitempty"`
	DismissReason string     `json:"dismiss_reason,omitempty"`
}

func alertJSON(r *alert.Record) AlertJSON {
	j := AlertJSON{ID: r.ID, Integration: r.IntegrationID, Fingerprint: r.Fingerprint, Status: r.Status, Title: r.Title,
		Labels: r.Labels, Annotations: r.Annotations, Links: r.Links, GroupKey: r.GroupKey, StartsAt: r.StartsAt.UTC(),
		EndsAt: optTime(r.EndsAt), FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC(), Received: r.Received, Incident: r.Incident,
		Truncated: r.Truncated, AckedBy: r.AckedBy, AckedAt: optTime(r.AckedAt), DismissedBy: r.DismissedBy,
		DismissedAt: optTime(r.DismissedAt), DismissReason: r.DismissReason}
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

var alertParams = []string{"status", "integration", "unattached", "dismissed", "match", "limit", "offset"}

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
	if aq.Dismissed, err = service.ParseDismissed(q.Get("dismissed")); err != nil {
		return 0, nil, err
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
	waiting, err := a.svc.InboxWaiting(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON), "waiting": waiting}, nil
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
	sum, err := a.svc.IncidentAlertSummary(r.Context(), p, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON), "attached": sum.Attached, "firing": sum.Firing,
		"truncated_alerts": sum.Truncated}, nil
}
