// Package web serves Quench's HTML pages: server-rendered with html/template,
// templates parsed once at start, assets embedded under content-hashed
// paths, a strict Content-Security-Policy, and small hand-written JavaScript
// that only enhances forms that work without it.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/route"
	"github.com/quenchhq/quench/internal/service"
)

//go:embed templates
var templateFS embed.FS

// CSP allows nothing but Quench's own scripts, styles and images: no
// inline script, no inline style attribute, no third-party loads.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SessionCookie names the browser session cookie.
const SessionCookie = "quench_session"

// Options configure the pages.
type Options struct {
	Log     *slog.Logger
	BaseURL string
	// SSO is set when OpenID Connect login is configured.
	SSO SSO
	// NewTicker paces the live stream's keep-alives and session checks;
	// nil is real time. Tests pass their fake clock's, so a check runs
	// when the test advances the clock, not after a real wait.
	NewTicker func(d time.Duration) (tick <-chan time.Time, stop func())
}

// SSO is the single sign-on flow the login page offers; nil if none.
type SSO interface {
	// Name is shown on the button ("Sign in with …").
	Name() string
	// Begin and Finish are served at /login/oidc and /login/oidc/callback.
	Begin(w http.ResponseWriter, r *http.Request)
	Finish(w http.ResponseWriter, r *http.Request) (service.Identity, error)
}

// Web serves the pages.
type Web struct {
	svc     *service.Service
	log     *slog.Logger
	baseURL string
	secure  bool
	sso     SSO
	assets  *assets
	pages   map[string]*template.Template
	ticker  func(time.Duration) (<-chan time.Time, func())
	// closing ends the live streams when the server shuts down.
	closing   chan struct{}
	closeOnce sync.Once
	// The status page's templates and rendered answers (status_page.go).
	statusPages map[string]*template.Template
	statusOut   statusOutput
}

// New parses every template; a broken template stops the server at start.
func New(svc *service.Service, opt Options) (*Web, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	if opt.NewTicker == nil {
		opt.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	w := &Web{svc: svc, log: opt.Log, baseURL: opt.BaseURL, secure: strings.HasPrefix(opt.BaseURL, "https://"),
		sso: opt.SSO, assets: a, pages: map[string]*template.Template{}, ticker: opt.NewTicker, closing: make(chan struct{})}
	if err := w.parse(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Web) parse() error {
	funcs := template.FuncMap{
		"asset":      w.assets.path,
		"severities": func() []string { return []string{"critical", "major", "minor"} },
		"phases":     func() []string { return []string{"active", "mitigated", "resolved", "closed"} },
		// states are the incident log's end-state filter: value, words.
		"states": func() [][2]string {
			return [][2]string{{"live", "in play or closed"}, {"ended", "merged or cancelled"}, {"merged", "merged"}, {"cancelled", "cancelled"}}
		},
		"since": since,
		"ago":   func(t time.Time) string { return ago(t, w.svc.Now()) },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts/*.html")
	if err != nil {
		return fmt.Errorf("parse layout: %w", err)
	}
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return err
	}
	for _, e := range names {
		if e.IsDir() || e.Name() == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+e.Name())
		if err != nil {
			return fmt.Errorf("parse %s: %w", e.Name(), err)
		}
		w.pages[strings.TrimSuffix(e.Name(), ".html")] = t
	}
	return w.parseStatus(funcs)
}

// Routes is the pages' route table, every page in one place like the
// API's: the server registers it and the access matrix walks it, so a page
// without a row for every principal fails a test. The handlers live with
// their area's file.
func (w *Web) Routes() []route.Route {
	return []route.Route{
		{"GET /static/", w.assets.serve},
		{"GET /events", w.events},

		// Signing in and one's own account (session.go).
		{"GET /login", w.loginPage},
		{"POST /login", w.login},
		{"POST /logout", w.logout},
		{"GET /login/oidc", w.ssoBegin},
		{"GET /login/oidc/callback", w.ssoFinish},
		{"GET /account", w.account},
		{"POST /account/password", w.changePassword},
		{"POST /account/profile", w.changeProfile},
		{"POST /account/sessions/{id}/revoke", w.revokeSession},

		// The board, the home page (board.go).
		{"GET /{$}", w.board},

		// The alert inbox, opening incidents and the incident log with
		// its exports (inbox_page.go).
		{"GET /alerts", w.alertsPage},
		{"POST /alerts/declare", w.declareAction},
		{"POST /alerts/attach", w.attachAction},
		{"POST /alerts/ack", w.ackAction},
		{"POST /alerts/dismiss", w.dismissAction},
		{"POST /alerts/unack", w.unackAction},
		{"POST /alerts/restore", w.restoreAction},
		{"POST /alerts/snoozes", w.snoozeAction},
		{"POST /alerts/snoozes/{id}/remove", w.unsnoozeAction},
		{"GET /incidents/new", w.newIncidentPage},
		{"POST /incidents", w.createIncident},
		{"GET /incidents", w.logPage},
		{"GET /incidents.csv", w.exportLog(service.LogCSV)},
		{"GET /incidents.json", w.exportLog(service.LogJSON)},

		// One incident and the forms on its page (incident_page.go).
		{"GET /incidents/{number}", w.incidentPage},
		{"POST /incidents/{number}/transition", w.act(w.transitionAction)},
		{"POST /incidents/{number}/merge", w.act(w.mergeAction)},
		{"POST /incidents/{number}/cancel", w.act(w.cancelAction)},
		{"POST /incidents/{number}/updates", w.act(w.postUpdateAction)},
		{"POST /incidents/{number}/updates/{id}/visibility", w.act(w.updateVisibilityAction)},
		{"POST /incidents/{number}/checklist", w.act(w.addItemAction)},
		{"POST /incidents/{number}/checklist/{id}", w.act(w.changeItemAction)},
		{"POST /incidents/{number}/links", w.act(w.addLinkAction)},
		{"POST /incidents/{number}/links/{id}/remove", w.act(w.removeLinkAction)},
		{"POST /incidents/{number}/links/{id}/visibility", w.act(w.linkVisibilityAction)},
		{"POST /incidents/{number}/attachments", w.act(w.uploadAction)},
		{"POST /incidents/{number}/owners", w.act(w.ownerAction)},
		{"POST /incidents/{number}/edit", w.act(w.editAction)},
		{"POST /incidents/{number}/publish", w.act(w.publishAction)},

		// The weekly review (review_page.go) and the insights
		// (insights_page.go).
		{"GET /review", w.reviewPage},
		{"POST /review", w.recordReviewAction},
		{"POST /review/schedule", w.scheduleAction},
		{"GET /reviews/{id}", w.pastReviewPage},
		{"GET /insights", w.insightsPage},
		{"GET /insights.csv", w.insightsCSV},

		// Administration (admin_page.go).
		{"GET /admin", w.adminPage(w.adminOverview)},
		{"GET /admin/users", w.adminPage(w.adminUsers)},
		{"POST /admin/users", w.adminPost(w.createUserAction)},
		{"POST /admin/users/{username}", w.adminPost(w.changeUserAction)},
		{"GET /admin/tokens", w.adminPage(w.adminTokens)},
		{"POST /admin/tokens", w.adminPost(w.createTokenAction)},
		{"POST /admin/tokens/{id}/revoke", w.adminPost(w.revokeTokenAction)},
		{"GET /admin/integrations", w.adminPage(w.adminIntegrations)},
		{"POST /admin/integrations", w.adminPost(w.createIntegrationAction)},
		{"POST /admin/integrations/{id}/remove", w.adminPost(w.removeIntegrationAction)},
		{"POST /admin/integrations/{id}/test", w.adminPost(w.testIntegrationAction)},
		{"GET /admin/heartbeats", w.adminPage(w.adminHeartbeats)},
		{"POST /admin/heartbeats", w.adminPost(w.createHeartbeatAction)},
		{"POST /admin/heartbeats/{id}/edit", w.adminPost(w.editHeartbeatAction)},
		{"POST /admin/heartbeats/{id}/rotate", w.adminPost(w.rotateHeartbeatAction)},
		{"POST /admin/heartbeats/{id}/remove", w.adminPost(w.removeHeartbeatAction)},
		{"GET /admin/onboard", w.adminPage(w.adminOnboard)},
		{"POST /admin/onboard", w.adminPost(w.onboardAction)},
		{"POST /admin/rules", w.adminPost(w.createRuleAction)},
		{"POST /admin/rules/{id}/remove", w.adminPost(w.removeRuleAction)},
		{"GET /admin/templates", w.adminPage(w.adminTemplates)},
		{"POST /admin/templates", w.adminPost(w.createTemplateAction)},
		{"GET /admin/templates/{id}", w.adminPage(w.adminTemplateEdit)},
		{"POST /admin/templates/{id}", w.adminPost(w.updateTemplateAction)},
		{"POST /admin/templates/{id}/remove", w.adminPost(w.removeTemplateAction)},
		{"GET /admin/sessions", w.adminPage(w.adminSessions)},
		{"POST /admin/sessions/{id}/revoke", w.adminPost(w.revokeSessionAction)},
		{"GET /admin/audit", w.adminPage(w.adminAudit)},
		{"GET /admin/settings", w.adminPage(w.adminSettings)},

		// Notifications: channels, and the outbox's deliveries with a
		// retry button (notify_page.go).
		{"GET /admin/channels", w.adminPage(w.adminChannels)},
		{"POST /admin/channels", w.adminPost(w.createChannelAction)},
		{"GET /admin/channels/{id}", w.adminPage(w.adminChannel)},
		{"POST /admin/channels/{id}", w.adminPost(w.changeChannelAction)},
		{"POST /admin/channels/{id}/test", w.adminPost(w.testChannelAction)},
		{"POST /admin/channels/{id}/remove", w.adminPost(w.removeChannelAction)},
		{"GET /admin/deliveries", w.adminPage(w.adminDeliveries)},
		{"POST /admin/deliveries/{id}/retry", w.adminPost(w.retryDeliveryAction)},

		// The status page for customers, its forms, and its
		// administration (status_page.go, status_forms.go,
		// status_admin.go).
		{"GET /status", w.statusHTML},
		{"GET /status.json", w.statusJSON},
		{"GET /status.atom", w.statusAtom},
		{"GET /status/report", w.reportPage},
		{"POST /status/report", w.reportAction},
		{"GET /status/subscribe", w.subscribePage},
		{"POST /status/subscribe", w.subscribeAction},
		{"GET /status/confirm", w.confirmPage()},
		{"POST /status/confirm", w.confirmAction()},
		{"GET /status/unsubscribe", w.unsubscribePage()},
		{"POST /status/unsubscribe", w.unsubscribeAction()},
		{"GET /admin/status", w.adminPage(w.adminStatus)},
		{"POST /admin/status/settings", w.adminPost(w.statusSettingsAction)},
		{"POST /admin/status/components", w.adminPost(w.createComponentAction)},
		{"POST /admin/status/components/{id}", w.adminPost(w.changeComponentAction)},
		{"POST /admin/status/components/{id}/remove", w.adminPost(w.removeComponentAction)},
		{"POST /admin/status/maintenance", w.adminPost(w.createMaintenanceAction)},
		{"POST /admin/status/maintenance/{id}/remove", w.adminPost(w.removeMaintenanceAction)},
		{"POST /admin/status/subscribers/{id}/remove", w.adminPost(w.removeSubscriberAction)},
	}
}

var errSignIn = problem.New(problem.Unauthenticated, "unauthenticated", "sign in to see this page")

// page is what every template gets.
type page struct {
	Title string
	// Principal is who looks at the page.
	Principal auth.Principal
	CSRF      string
	Now       time.Time
	Data      any
	// Error and Notice are shown above the content.
	Error  string
	Notice string
}

// Team, Writer and Admin say what the viewer may do, for templates.
func (p *page) Team() bool   { return p.Principal.Can(auth.ReadAll) }
func (p *page) Writer() bool { return p.Principal.Can(auth.WriteIncidents) }
func (p *page) Admin() bool  { return p.Principal.Can(auth.Administer) }

func (w *Web) newPage(r *http.Request, title string, data any) *page {
	p := auth.From(r.Context())
	pg := &page{Title: title, Principal: p, Now: w.svc.Now(), Data: data}
	if p.Session != nil {
		pg.CSRF = p.Session.CSRF
	}
	return pg
}

// render executes a page into a buffer first, so a template error becomes
// a clean 500 instead of half a page.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, pg *page) {
	t, ok := w.pages[name]
	if !ok {
		w.log.Error("no such template", "template", name)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		w.log.Error("render failed", "template", name, "err", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	rw.Write(buf.Bytes())
}

// Fail shows an error page for err; used by the server's middleware.
func (w *Web) Fail(rw http.ResponseWriter, r *http.Request, err error) { w.fail(rw, r, err) }

// fail shows an error page; the status and message come from the problem,
// causes are logged. Pages that need a login send anonymous visitors to it;
// an ended session gets the sign-in page with a 401.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if !ok && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The browser went away (a page left while it loaded): nobody
		// to answer, and nothing wrong on our side.
		w.log.Debug("page abandoned", "method", r.Method, "path", r.URL.Path)
		return
	}
	if !ok {
		w.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p = problem.New(problem.Internal, "internal", "Something went wrong on our side.")
	}
	status := problem.HTTPStatus(p.Kind)
	if status == http.StatusUnauthorized {
		if p.Code == "invalid_session" || r.Method != http.MethodGet {
			pg := w.newPage(r, "Sign in", w.loginData(SafeNext(r.URL.RequestURI()), ""))
			pg.Error = p.Message
			w.render(rw, r, status, "login", pg)
			return
		}
		http.Redirect(rw, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if s := problem.RetryAfter(p); s != "" {
		rw.Header().Set("Retry-After", s)
	}
	pg := w.newPage(r, http.StatusText(status), nil)
	pg.Error = p.Message
	w.render(rw, r, status, "error", pg)
}

// NotFound renders the HTML 404 page.
func (w *Web) NotFound(rw http.ResponseWriter, r *http.Request) {
	w.fail(rw, r, problem.New(problem.NotFound, "not_found", "There is no page at %s.", r.URL.Path))
}

// ago is a relative time for people: "12 min ago", "3 h ago"; the page's
// script keeps it current and puts the exact time, in the viewer's zone,
// in the tooltip.
func ago(t, now time.Time) string {
	if t.After(now) && !t.IsZero() {
		if s := since(now, t); s != "just now" {
			return "in " + s
		}
		return "just now"
	}
	switch s := since(t, now); s {
	case "", "just now":
		return s
	default:
		return s + " ago"
	}
}

// since is a readable age: "3 h", "2 d".
func since(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}
