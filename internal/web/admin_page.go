package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// adminGate lets admins through: anonymous visitors are asked to sign in,
// everyone else is refused.
func (w *Web) adminGate(rw http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p := auth.From(r.Context())
	switch {
	case p.Can(auth.Administer):
		return p, true
	case p.IsAnonymous():
		w.fail(rw, r, errSignIn)
	default:
		w.fail(rw, r, problem.New(problem.Forbidden, "forbidden", "Only admins may see this page."))
	}
	return p, false
}

// adminView builds a page's title, template and data, or fails.
type adminView func(r *http.Request, p auth.Principal) (title, tmpl string, data any, err error)

func (w *Web) adminPage(v adminView) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p, ok := w.adminGate(rw, r)
		if !ok {
			return
		}
		w.showAdmin(rw, r, p, v, http.StatusOK, "")
	}
}

func (w *Web) showAdmin(rw http.ResponseWriter, r *http.Request, p auth.Principal, v adminView, status int, msg string) {
	title, tmpl, data, err := v(r, p)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	pg := w.newPage(r, title, data)
	pg.Error, pg.Notice = msg, r.URL.Query().Get("notice")
	w.render(rw, r, status, tmpl, pg)
}

// adminAction handles a form: it returns where to go (PRG), or a page to
// render directly (secrets shown once), or an error shown on page back.
type adminAction func(r *http.Request, p auth.Principal) (next string, back adminView, show *shown, err error)

// shown is a one-time page: a new secret that must not go through a
// redirect, a URL or a cache.
type shown struct {
	Title string
	Data  any
	// Template renders it; default admin_secret.
	Template string
}

func (w *Web) adminPost(a adminAction) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		p, ok := w.adminGate(rw, r)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			w.fail(rw, r, problem.Invalidf("the form is too large"))
			return
		}
		next, back, show, err := a(r, p)
		switch {
		case err != nil:
			pr, ok := problem.As(err)
			if !ok || back == nil || pr.Kind == problem.Internal || pr.Kind == problem.Unavailable || pr.Kind == problem.NotFound {
				w.fail(rw, r, err)
				return
			}
			w.showAdmin(rw, r, p, back, problem.HTTPStatus(pr.Kind), pr.Message)
		case show != nil:
			tmpl := show.Template
			if tmpl == "" {
				tmpl = "admin_secret"
			}
			w.render(rw, r, http.StatusOK, tmpl, w.newPage(r, show.Title, show.Data))
		default:
			http.Redirect(rw, r, next, http.StatusSeeOther)
		}
	}
}

func notice(path, msg string) string { return path + "?notice=" + url.QueryEscape(msg) }

type overview struct {
	Users, Tokens, Integrations, Sessions int
}

func (w *Web) adminOverview(r *http.Request, p auth.Principal) (string, string, any, error) {
	var o overview
	users, err := w.svc.Users(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	tokens, err := w.svc.Tokens(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	ins, err := w.svc.Integrations(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	sessions, err := w.svc.Sessions(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	o.Users, o.Integrations, o.Sessions = len(users), len(ins), len(sessions)
	for _, t := range tokens {
		if t.Usable(w.svc.Now()) {
			o.Tokens++
		}
	}
	return "Admin", "admin", o, nil
}

func (w *Web) adminUsers(r *http.Request, p auth.Principal) (string, string, any, error) {
	users, err := w.svc.Users(r.Context(), p)
	return "Users", "admin_users", users, err
}

func (w *Web) createUserAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	pw, generated := f.Get("password"), false
	if pw == "" {
		pw, generated = auth.NewSecret("")[:20], true
	}
	u, err := w.svc.CreateUser(r.Context(), p, service.NewUser{Username: f.Get("username"), DisplayName: f.Get("display_name"),
		Email: f.Get("email"), Role: auth.Role(f.Get("role")), Password: pw})
	if err != nil {
		return "", w.adminUsers, nil, err
	}
	if generated {
		return "", nil, &shown{Title: "User created", Data: secretData{What: "password for " + u.Username, Secret: pw, Back: "/admin/users",
			Hint: "Give it to " + u.Username + " over a safe channel; they can change it on their account page."}}, nil
	}
	return notice("/admin/users", "Created "+u.Username+"."), nil, nil, nil
}

// changeUserAction changes role, enables, disables or resets the password.
func (w *Web) changeUserAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	name := r.PathValue("username")
	var c service.UserPatch
	var pw string
	switch r.PostForm.Get("do") {
	case "role":
		role := auth.Role(r.PostForm.Get("role"))
		c.Role = &role
	case "disable", "enable":
		d := r.PostForm.Get("do") == "disable"
		c.Disabled = &d
	case "reset":
		pw = auth.NewSecret("")[:20]
		c.Password = &pw
		// The form's box is ticked by default; unticked, the browser
		// sends nothing.
		c.KeepTokens = r.PostForm.Get("revoke_tokens") == ""
	default:
		return "", w.adminUsers, nil, problem.Invalidf("unknown user action")
	}
	if _, err := w.svc.UpdateUser(r.Context(), p, name, c); err != nil {
		return "", w.adminUsers, nil, err
	}
	if pw != "" {
		hint := "Every session and API token of " + name + " has ended."
		if c.KeepTokens {
			hint = "Every session of " + name + " has ended; their API tokens still work."
		}
		return "", nil, &shown{Title: "Password reset", Data: secretData{What: "new password for " + name, Secret: pw, Back: "/admin/users",
			Hint: hint}}, nil
	}
	return notice("/admin/users", "Changed "+name+"."), nil, nil, nil
}

type secretData struct {
	What, Secret, Back, Hint, Snippet, URL string
}

type tokensData struct {
	Tokens []*auth.Token
	Users  []*auth.User
	Now    time.Time
}

func (w *Web) adminTokens(r *http.Request, p auth.Principal) (string, string, any, error) {
	tokens, err := w.svc.Tokens(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	users, err := w.svc.Users(r.Context(), p)
	return "API tokens", "admin_tokens", tokensData{Tokens: tokens, Users: users, Now: w.svc.Now()}, err
}

func (w *Web) createTokenAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	scopes, err := auth.ParseScopes(strings.Join(f["scope"], ","))
	if err != nil {
		return "", w.adminTokens, nil, err
	}
	var ttl time.Duration
	switch f.Get("expires") {
	case "", "never":
	case "30d", "90d", "365d":
		days, _ := strconv.Atoi(strings.TrimSuffix(f.Get("expires"), "d"))
		ttl = time.Duration(days) * 24 * time.Hour
	default:
		return "", w.adminTokens, nil, problem.Invalidf("unknown expiry")
	}
	secret, tk, err := w.svc.CreateToken(r.Context(), p, service.NewToken{Username: f.Get("user"), Name: f.Get("name"), Scopes: scopes, TTL: ttl})
	if err != nil {
		return "", w.adminTokens, nil, err
	}
	return "", nil, &shown{Title: "Token created", Data: secretData{What: fmt.Sprintf("token %q for %s (%s)", tk.Name, tk.Username, auth.JoinScopes(tk.Scopes)),
		Secret: secret, Back: "/admin/tokens", Hint: "Use it as Authorization: Bearer … or QUENCH_TOKEN. It is shown only now."}}, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.New(problem.NotFound, "not_found", "not found")
	}
	return id, nil
}

func (w *Web) revokeTokenAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.RevokeToken(r.Context(), p, id)
	}
	return notice("/admin/tokens", fmt.Sprintf("Token %d revoked.", id)), w.adminTokens, nil, err
}

type integrationRow struct {
	*alert.Integration
	URL string
}

type integrationsData struct {
	Integrations []integrationRow
	Rules        []*alert.Rule
	Types        []string
}

func (w *Web) adminIntegrations(r *http.Request, p auth.Principal) (string, string, any, error) {
	ins, err := w.svc.Integrations(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	d := integrationsData{Types: alert.Types}
	for _, in := range ins {
		d.Integrations = append(d.Integrations, integrationRow{Integration: in, URL: service.IntakeURL(w.baseURL, in)})
	}
	d.Rules, err = w.svc.Rules(r.Context(), p)
	return "Integrations and rules", "admin_integrations", d, err
}

func (w *Web) createIntegrationAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	token, in, err := w.svc.CreateIntegration(r.Context(), p, service.NewIntegration{Type: f.Get("type"), Name: f.Get("name"), Secret: f.Get("secret")})
	if err != nil {
		return "", w.adminIntegrations, nil, err
	}
	hint := "Paste this into the sender's configuration. The token is shown only now."
	if token == "" {
		hint = "Sentry signs its deliveries with the client secret you gave; there is no token."
	}
	return "", nil, &shown{Title: "Integration created", Data: secretData{What: in.Type + " integration " + in.Name, Secret: token,
		Back: "/admin/integrations", Hint: hint, Snippet: service.Snippet(w.baseURL, in, token), URL: service.IntakeURL(w.baseURL, in)}}, nil
}

func (w *Web) removeIntegrationAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	if r.PostForm.Get("confirm") == "" {
		return "", w.adminIntegrations, nil, problem.Unprocessablef("tick the box to confirm: the integration's URL will stop accepting alerts")
	}
	err := w.svc.DeleteIntegration(r.Context(), p, r.PathValue("id"))
	return notice("/admin/integrations", "Integration removed."), w.adminIntegrations, nil, err
}

func (w *Web) createRuleAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	pos, _ := strconv.Atoi(f.Get("position"))
	_, err := w.svc.CreateRule(r.Context(), p, service.NewRule{Position: pos, Name: f.Get("name"), Matchers: f.Get("matchers"),
		Action: alert.Action(f.Get("action")), Severity: f.Get("severity"), Visibility: f.Get("visibility")})
	return notice("/admin/integrations", "Rule added."), w.adminIntegrations, nil, err
}

func (w *Web) removeRuleAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.DeleteRule(r.Context(), p, id)
	}
	return notice("/admin/integrations", "Rule removed."), w.adminIntegrations, nil, err
}

func (w *Web) adminSessions(r *http.Request, p auth.Principal) (string, string, any, error) {
	list, err := w.svc.Sessions(r.Context(), p)
	return "Sessions", "admin_sessions", list, err
}

func (w *Web) revokeSessionAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	err := w.svc.RevokeSession(r.Context(), p, r.PathValue("id"), client(r))
	return notice("/admin/sessions", "Session ended."), w.adminSessions, nil, err
}

type auditData struct {
	Entries []*auth.AuditEntry
	Older   int64
}

const auditPage = 100

func (w *Web) adminAudit(r *http.Request, p auth.Principal) (string, string, any, error) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	list, err := w.svc.Audit(r.Context(), p, auditPage, max(before, 0))
	d := auditData{Entries: list}
	if len(list) == auditPage {
		d.Older = list[len(list)-1].ID
	}
	return "Audit log", "admin_audit", d, err
}

type setting struct{ Name, Value, Env string }

func (w *Web) adminSettings(r *http.Request, p auth.Principal) (string, string, any, error) {
	sso := "not configured"
	if w.sso != nil {
		sso = w.sso.Name()
	}
	return "Settings", "admin_settings", []setting{
		{"Public viewing", fmt.Sprint(w.svc.PublicViewing()), "QUENCH_PUBLIC_VIEWING"},
		{"Address people use", w.baseURL, "QUENCH_BASE_URL"},
		{"Database", w.svc.Database(), "QUENCH_DATA_DIR or QUENCH_DATABASE_URL"},
		{"Single sign-on", sso, "QUENCH_OIDC_ISSUER, QUENCH_OIDC_CLIENT_ID, QUENCH_OIDC_CLIENT_SECRET"},
	}, nil
}

// onboardData is the onboarding page: the form, and after it is sent what
// to paste.
type onboardData struct {
	Service, Namespace, RunbookBase string
	Result                          *service.Onboarding
	URL                             string
}

func (w *Web) adminOnboard(r *http.Request, p auth.Principal) (string, string, any, error) {
	f := r.PostForm
	return "Onboard a service", "admin_onboard", onboardData{Service: f.Get("service"), Namespace: f.Get("namespace"), RunbookBase: f.Get("runbook_base")}, nil
}

// onboardAction shows the configuration on the answer to the POST itself:
// a new integration's token is in it, shown once.
func (w *Web) onboardAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	o, err := w.svc.Onboard(r.Context(), p, w.baseURL, strings.TrimSpace(f.Get("service")), strings.TrimSpace(f.Get("namespace")), strings.TrimSpace(f.Get("runbook_base")))
	if err != nil {
		return "", w.adminOnboard, nil, err
	}
	return "", nil, &shown{Title: "Onboard " + o.Service, Template: "admin_onboard",
		Data: onboardData{Service: o.Service, Namespace: o.Namespace, RunbookBase: f.Get("runbook_base"), Result: o, URL: service.IntakeURL(w.baseURL, o.Integration)}}, nil
}
