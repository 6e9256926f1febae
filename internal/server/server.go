// Package server wires HTTP: the middleware chain, the route tables of the
// API and the pages, health and metrics, and a graceful http.Server.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/web"
)

// Options configure the HTTP handler.
type Options struct {
	Log     *slog.Logger
	BaseURL string
	// Registry receives Quench's metrics; /metrics serves it.
	Registry *prometheus.Registry
	// SSO is the single sign-on flow, nil when not configured.
	SSO web.SSO
	// TrustedProxies are the peers allowed to name the client in
	// X-Forwarded-For; empty trusts nobody.
	TrustedProxies []netip.Prefix
	// NewTicker paces the live stream; nil is real time (see web.Options).
	NewTicker func(d time.Duration) (tick <-chan time.Time, stop func())
}

// Handler is the whole HTTP surface of Quench.
type Handler struct {
	http.Handler
	// Patterns lists every registered route, for the access-matrix test.
	Patterns []string
	pages    *web.Web
}

// CloseStreams ends the open live streams; Serve calls it at shutdown.
func (h *Handler) CloseStreams() { h.pages.CloseStreams() }

// New builds the handler: routes plus the middleware chain, outermost first:
// recover → client address → log and measure → security headers →
// cross-origin protection → authenticate → CSRF → route.
func New(svc *service.Service, opt Options) (*Handler, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	pages, err := web.New(svc, web.Options{Log: opt.Log, BaseURL: opt.BaseURL, SSO: opt.SSO, NewTicker: opt.NewTicker})
	if err != nil {
		return nil, err
	}
	m := newMetrics(opt.Registry, svc)
	a := api.New(svc, opt.Log, opt.BaseURL)
	a.ObserveIntake(m.observeIntake)
	mux := http.NewServeMux()
	var patterns []string
	handle := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, h)
		patterns = append(patterns, pattern)
	}
	for _, rt := range a.Routes() {
		handle(rt.Pattern, rt.Handler)
	}
	for _, rt := range pages.Routes() {
		handle(rt.Pattern, rt.Handler)
	}
	handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	handle("GET /readyz", readyz(svc, opt.Log))
	metrics := promhttp.HandlerFor(opt.Registry, promhttp.HandlerOpts{Registry: opt.Registry})
	handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		// Metrics count confidential incidents too: team only (a read
		// token in Prometheus' scrape config).
		if p := auth.From(r.Context()); !p.Can(auth.ReadAll) {
			err := problem.New(problem.Forbidden, "forbidden", "metrics need an API token with the read scope")
			if p.IsAnonymous() {
				err = problem.New(problem.Unauthenticated, "unauthenticated", "metrics need an API token with the read scope")
			}
			api.WriteError(w, r, opt.Log, err)
			return
		}
		metrics.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			api.WriteError(w, r, opt.Log, problem.New(problem.NotFound, "not_found", "no such endpoint: %s %s", r.Method, api.LogPath(r)))
			return
		}
		pages.NotFound(w, r)
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, opt.Log, pages, problem.New(problem.Forbidden, "cross_origin", "cross-origin request refused"))
	}))
	secure := strings.HasPrefix(opt.BaseURL, "https://")
	var h http.Handler = recordRoute(mux)
	h = checkCSRF(opt.Log, pages, h)
	h = authenticate(svc, opt.Log, pages, secure, h)
	h = cop.Handler(h)
	h = securityHeaders(secure, h)
	h = m.instrument(opt.Log, h)
	h = clientAddress(opt.TrustedProxies, h)
	h = recoverPanics(opt.Log, pages, h)
	return &Handler{Handler: h, Patterns: patterns, pages: pages}, nil
}

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics"
}

// fail answers an error as JSON for the API and as a page for browsers.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, pages *web.Web, err error) {
	if isAPI(r) {
		api.WriteError(w, r, log, err)
		return
	}
	pages.Fail(w, r, err)
}

func readyz(svc *service.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err := svc.Store().Ready(ctx)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			log.Warn("not ready", "err", err)
			// The pace writes refused on an unavailable database ask for,
			// so probes and load balancers back off alike.
			w.Header().Set("Retry-After", problem.RetryUnavailable)
			w.WriteHeader(http.StatusServiceUnavailable)
			if problem.Is(err, "storage_full") {
				w.Write([]byte("not ready: storage full\n"))
				return
			}
			w.Write([]byte("not ready: database unavailable or schema not current\n"))
			return
		}
		w.Write([]byte("ready\n"))
	}
}

// authenticate resolves the request's principal once: an API token, else a
// session cookie, else an anonymous viewer. A bad token or cookie is a 401
// at once (the cookie is cleared): falling back to anonymous would hide a
// misconfigured client. The one exception is an ended session on a
// sign-in request (web.SignsIn), which is what the 401 asks for.
func authenticate(svc *service.Service, log *slog.Logger, pages *web.Web, secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Anonymous
		var err error
		// Intake and heartbeat pings authenticate by what they carry (an
		// integration's token or signature, a heartbeat's key in the
		// path), never by a user's token or session.
		intake := strings.HasPrefix(r.URL.Path, api.IntakePrefix) || strings.HasPrefix(r.URL.Path, api.PingPrefix)
		if h := r.Header.Get("Authorization"); h != "" && !intake {
			// Intake authenticates per integration (its own token, basic
			// auth, body signatures) in the handler.
			scheme, secret, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				api.WriteError(w, r, log, problem.New(problem.Unauthenticated, "invalid_token", "use Authorization: Bearer <token>"))
				return
			}
			if p, err = svc.AuthenticateToken(r.Context(), strings.TrimSpace(secret)); err != nil {
				api.WriteError(w, r, log, err)
				return
			}
		} else if c, cerr := r.Cookie(web.SessionCookie); cerr == nil && c.Value != "" && !intake {
			if p, err = svc.AuthenticateSession(r.Context(), c.Value); err != nil {
				ended := problem.Is(err, "invalid_session")
				if ended {
					web.ClearSession(w, secure)
				}
				// Signing in is the way past an ended session, so a
				// sign-in goes on as anonymous: its credentials are
				// checked and its new cookie replaces the cleared one.
				// Anonymous, it needs no form token; cross-origin
				// protection, outside this, refuses foreign sign-ins.
				if !ended || !web.SignsIn(r) {
					fail(w, r, log, pages, err)
					return
				}
				p = auth.Anonymous
			}
		}
		// An ingest-only token is for senders: it reaches the intake and
		// the health checks, nothing else.
		if p.Token != nil && !p.Can(auth.ReadAll) && !intake && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			fail(w, r, log, pages, problem.New(problem.Forbidden, "forbidden", "this token may only post alerts"))
			return
		}
		p.Remote = r.RemoteAddr
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// checkCSRF requires the session's form token on every state-changing
// request a browser session makes: in the form field "csrf", the
// X-CSRF-Token header, or (for multipart uploads, read before the body) the
// "csrf" query parameter. Token-authenticated and anonymous requests carry
// no ambient credentials, so cross-origin protection alone covers them.
func checkCSRF(log *slog.Logger, pages *web.Web, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.From(r.Context())
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if p.Session == nil {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.URL.Query().Get("csrf")
		}
		if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			r.Body = http.MaxBytesReader(w, r.Body, api.MaxBody)
			got = r.PostFormValue("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRF)) != 1 {
			fail(w, r, log, pages, problem.New(problem.Forbidden, "csrf", "the form has expired or did not come from Quench; reload the page and try again"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries. When Quench is
// reached over https, Strict-Transport-Security makes browsers refuse plain
// http to it, where someone on the network could answer with a look-alike
// sign-in page; it is sent whatever the request's own scheme, since TLS
// usually ends at a proxy in front. No includeSubDomains: it would pin
// every host below Quench's (all of an organisation's, when Quench runs at
// the apex) to https, which is for whoever runs the domain to decide.
func securityHeaders(secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		// Pages set their own, less strict policy when they render.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into the same 500 as any internal error: an
// error page for browsers, JSON for the API. The panic and its stack are
// logged; the client learns nothing of them.
func recoverPanics(log *slog.Logger, pages *web.Web, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", api.LogPath(r), "panic", v, "stack", string(debug.Stack()))
				fail(w, r, log, pages, problem.New(problem.Internal, "internal", "Something went wrong on our side."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Serve runs an http.Server on ln until ctx ends, then drains in-flight
// requests for up to drain before closing.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, drain time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Requests in flight get the drain to finish, but a live stream never
	// finishes by itself: it is told to end as soon as shutdown starts, so
	// the drain is not spent waiting for it.
	if s, ok := h.(interface{ CloseStreams() }); ok {
		srv.RegisterOnShutdown(s.CloseStreams)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
