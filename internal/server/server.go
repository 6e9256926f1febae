// Package server wires HTTP: the middleware chain, the route tables of the
// API and the pages, health and metrics, and a graceful http.Server.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quenchhq/quench/internal/api"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// Options configure the HTTP handler.
type Options struct {
	Log     *slog.Logger
	BaseURL string
	// Registry receives Quench's metrics; /metrics serves it.
	Registry *prometheus.Registry
}

// Handler is the whole HTTP surface of Quench.
type Handler struct {
	http.Handler
	// API exposes the route table for access tests.
	API *api.API
}

// New builds the handler: routes plus the middleware chain, outermost first:
// recover → log and measure → security headers → authenticate → route.
func New(svc *service.Service, opt Options) *Handler {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(opt.Registry, svc)
	a := api.New(svc, opt.Log, opt.BaseURL)
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.HandleFunc(rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", readyz(svc, opt.Log))
	metrics := promhttp.HandlerFor(opt.Registry, promhttp.HandlerOpts{Registry: opt.Registry})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
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
		api.WriteError(w, r, opt.Log, problem.New(problem.NotFound, "not_found", "no such page: %s %s", r.Method, r.URL.Path))
	})

	var h http.Handler = recordRoute(mux)
	h = authenticate(svc, opt.Log, h)
	h = securityHeaders(h)
	h = m.instrument(opt.Log, h)
	h = recoverPanics(opt.Log, h)
	return &Handler{Handler: h, API: a}
}

func readyz(svc *service.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		st := svc.Store()
		err := st.Ping(ctx)
		if err == nil {
			err = st.CheckSchema(ctx)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			log.Warn("not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: database unavailable or schema not current\n"))
			return
		}
		w.Write([]byte("ready\n"))
	}
}

// authenticate resolves the request's principal once. A bad token is a 401
// at once: falling back to anonymous would hide a misconfigured client.
func authenticate(svc *service.Service, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Anonymous
		// Intake authenticates per integration (its own token, basic auth,
		// body signatures) in the handler.
		if h := r.Header.Get("Authorization"); h != "" && !strings.HasPrefix(r.URL.Path, api.IntakePrefix) {
			scheme, secret, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				api.WriteError(w, r, log, problem.New(problem.Unauthenticated, "invalid_token", "use Authorization: Bearer <token>"))
				return
			}
			var err error
			if p, err = svc.AuthenticateToken(r.Context(), strings.TrimSpace(secret)); err != nil {
				api.WriteError(w, r, log, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				api.WriteError(w, r, log, problem.New(problem.Internal, "internal", "internal error"))
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
