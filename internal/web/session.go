package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

func client(r *http.Request) service.Client {
	return service.Client{Remote: r.RemoteAddr, UserAgent: r.UserAgent()}
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// SafeNext returns a same-origin path to go to after signing in: anything
// that could leave the site ("//evil", "/\evil", "https:evil", encoded
// variants) becomes "/".
func SafeNext(next string) string {
	if next == "" || len(next) > 2000 {
		return "/"
	}
	dec, err := url.PathUnescape(next)
	if err != nil {
		return "/"
	}
	for _, s := range []string{next, dec} {
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\") ||
			strings.ContainsFunc(s, unicode.IsControl) {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return u.RequestURI()
}

type loginData struct {
	Next     string
	Username string
	SSO      string
}

func (w *Web) loginPage(rw http.ResponseWriter, r *http.Request) {
	next := SafeNext(r.URL.Query().Get("next"))
	if p := auth.From(r.Context()); !p.IsAnonymous() && p.Session != nil {
		http.Redirect(rw, r, next, http.StatusSeeOther)
		return
	}
	w.render(rw, r, http.StatusOK, "login", w.newPage(r, "Sign in", w.loginData(next, "")))
}

func (w *Web) loginData(next, username string) loginData {
	d := loginData{Next: next, Username: username}
	if w.sso != nil {
		d.SSO = w.sso.Name()
	}
	return d
}

func (w *Web) login(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	next := SafeNext(r.PostFormValue("next"))
	secret, _, err := w.svc.Login(r.Context(), username, password, client(r))
	if err != nil {
		pg := w.newPage(r, "Sign in", w.loginData(next, username))
		p, _ := problem.As(err)
		if p == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			// The client gave up while its attempt waited: nobody to blame.
			p = problem.Wrap(problem.Unavailable, "unavailable", err, "the request was cancelled")
		}
		status := http.StatusInternalServerError
		pg.Error = "Something went wrong on our side; try again."
		if p != nil {
			status, pg.Error = problem.HTTPStatus(p.Kind), p.Message
			if s := problem.RetryAfter(p); s != "" {
				rw.Header().Set("Retry-After", s)
			}
		} else {
			w.log.Error("login failed", "err", err)
		}
		w.render(rw, r, status, "login", pg)
		return
	}
	w.setSession(rw, secret)
	http.Redirect(rw, r, next, http.StatusSeeOther)
}

func (w *Web) setSession(rw http.ResponseWriter, secret string) {
	http.SetCookie(rw, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: w.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(service.SessionLifetime.Seconds())})
}

// ClearSession removes the session cookie.
func ClearSession(rw http.ResponseWriter, secure bool) {
	http.SetCookie(rw, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	if err := w.svc.Logout(r.Context(), auth.From(r.Context()), client(r)); err != nil {
		w.fail(rw, r, err)
		return
	}
	ClearSession(rw, w.secure)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func (w *Web) ssoBegin(rw http.ResponseWriter, r *http.Request) {
	if w.sso == nil {
		w.NotFound(rw, r)
		return
	}
	w.sso.Begin(rw, r)
}

func (w *Web) ssoFinish(rw http.ResponseWriter, r *http.Request) {
	if w.sso == nil {
		w.NotFound(rw, r)
		return
	}
	id, err := w.sso.Finish(rw, r)
	var secret string
	if err == nil {
		secret, _, err = w.svc.LoginIdentity(r.Context(), id, w.ssoMayCreate(id), client(r))
	}
	if err != nil {
		pg := w.newPage(r, "Sign in", w.loginData("/", ""))
		pg.Error = "Single sign-on failed: " + errorMessage(err)
		w.render(rw, r, http.StatusForbidden, "login", pg)
		return
	}
	w.setSession(rw, secret)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// ssoMayCreate asks the configured policy; set by the SSO adapter.
func (w *Web) ssoMayCreate(id service.Identity) bool {
	if c, ok := w.sso.(interface{ MayCreate(service.Identity) bool }); ok {
		return c.MayCreate(id)
	}
	return false
}

func errorMessage(err error) string {
	if p, ok := problem.As(err); ok {
		return p.Message
	}
	return err.Error()
}

type accountData struct {
	Sessions []*auth.Session
}

func (w *Web) account(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, problem.New(problem.Unauthenticated, "unauthenticated", "sign in"))
		return
	}
	list, err := w.svc.Sessions(r.Context(), p)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	own := list[:0]
	for _, s := range list {
		if s.UserID == p.User.ID {
			own = append(own, s)
		}
	}
	pg := w.newPage(r, "Your account", accountData{Sessions: own})
	pg.Notice = r.URL.Query().Get("notice")
	w.render(rw, r, http.StatusOK, "account", pg)
}

func (w *Web) changePassword(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	p := auth.From(r.Context())
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		w.accountError(rw, r, problem.Unprocessablef("the two new passwords differ"))
		return
	}
	if err := w.svc.ChangePassword(r.Context(), p, r.PostFormValue("current"), r.PostFormValue("new"), client(r)); err != nil {
		w.accountError(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/account?notice="+url.QueryEscape("Password changed; your other sessions have ended."), http.StatusSeeOther)
}

func (w *Web) accountError(rw http.ResponseWriter, r *http.Request, err error) {
	p, ok := problem.As(err)
	if !ok || problem.HTTPStatus(p.Kind) == http.StatusUnauthorized {
		w.fail(rw, r, err)
		return
	}
	pg := w.newPage(r, "Your account", accountData{})
	pg.Error = p.Message
	if s := problem.RetryAfter(p); s != "" {
		rw.Header().Set("Retry-After", s)
	}
	w.render(rw, r, problem.HTTPStatus(p.Kind), "account", pg)
}

func (w *Web) revokeSession(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	if err := w.svc.RevokeSession(r.Context(), p, r.PathValue("id"), client(r)); err != nil {
		w.fail(rw, r, err)
		return
	}
	if p.Session != nil && p.Session.ID == r.PathValue("id") {
		ClearSession(rw, w.secure)
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(rw, r, "/account?notice="+url.QueryEscape("Session ended."), http.StatusSeeOther)
}
