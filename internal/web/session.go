package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
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

// SignsIn reports whether r opens a session: the password form or the
// single sign-on flow. The server lets these past an ended session's
// cookie, which they replace; any other request with one is a 401.
func SignsIn(r *http.Request) bool {
	switch r.Method + " " + r.URL.Path {
	case "POST /login", "GET /login/oidc", "GET /login/oidc/callback":
		return true
	}
	return false
}

// setSession sets the session cookie, in place of any clearing of an ended
// one earlier in this answer, so the answer says one thing about it.
func (w *Web) setSession(rw http.ResponseWriter, secret string) {
	if h := rw.Header(); len(h["Set-Cookie"]) > 0 {
		h["Set-Cookie"] = slices.DeleteFunc(h["Set-Cookie"], func(c string) bool { return strings.HasPrefix(c, SessionCookie+"=") })
	}
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
	// Email and NotifyEmail are the person's e-mail settings, or what
	// they typed when it was refused.
	Email        string
	NotifyEmail  bool
	EmailEnabled bool
}

func (w *Web) account(rw http.ResponseWriter, r *http.Request) {
	w.showAccount(rw, r, http.StatusOK, "", nil)
}

// showAccount renders the account page; a refused profile form passes
// what was typed, so it is shown again. A refusal is shown even when the
// rest of the page cannot be read (the database busy, say).
func (w *Web) showAccount(rw http.ResponseWriter, r *http.Request, status int, msg string, typed url.Values) {
	p := auth.From(r.Context())
	if p.IsAnonymous() {
		w.fail(rw, r, problem.New(problem.Unauthenticated, "unauthenticated", "sign in"))
		return
	}
	d, err := w.accountData(r, p)
	if err != nil && msg == "" {
		w.fail(rw, r, err)
		return
	}
	if typed != nil {
		d.Email, d.NotifyEmail = typed.Get("email"), typed.Get("notify_email") != ""
	}
	pg := w.newPage(r, "Your account", d)
	pg.Error = msg
	pg.Notice = r.URL.Query().Get("notice")
	w.render(rw, r, status, "account", pg)
}

func (w *Web) accountData(r *http.Request, p auth.Principal) (accountData, error) {
	d := accountData{EmailEnabled: w.svc.EmailEnabled()}
	list, err := w.svc.Sessions(r.Context(), p)
	if err != nil {
		return d, err
	}
	for _, s := range list {
		if s.UserID == p.User.ID {
			d.Sessions = append(d.Sessions, s)
		}
	}
	prof, err := w.svc.MyProfile(r.Context(), p)
	if err != nil {
		return d, err
	}
	d.Email, d.NotifyEmail = prof.User.Email, prof.NotifyEmail
	return d, nil
}

func (w *Web) changePassword(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	p := auth.From(r.Context())
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		w.accountError(rw, r, problem.Unprocessablef("the two new passwords differ"), nil)
		return
	}
	if err := w.svc.ChangePassword(r.Context(), p, r.PostFormValue("current"), r.PostFormValue("new"), client(r)); err != nil {
		w.accountError(rw, r, err, nil)
		return
	}
	http.Redirect(rw, r, "/account?notice="+url.QueryEscape("Password changed; your other sessions have ended."), http.StatusSeeOther)
}

// changeProfile saves the e-mail address and whether to get e-mail about
// one's own work. It is the account page's form, for browser sessions;
// tokens use PATCH /api/v1/me.
func (w *Web) changeProfile(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 16<<10)
	p := auth.From(r.Context())
	switch {
	case p.IsAnonymous():
		w.fail(rw, r, errSignIn)
		return
	case p.Session == nil:
		w.fail(rw, r, problem.New(problem.Forbidden, "forbidden", "Change your profile on the account page, or with PATCH /api/v1/me."))
		return
	}
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.New(problem.TooLarge, "too_large", "The form is too large."))
		return
	}
	email, on := r.PostForm.Get("email"), r.PostForm.Get("notify_email") != ""
	if _, err := w.svc.UpdateProfile(r.Context(), p, service.ProfilePatch{Email: &email, NotifyEmail: &on}); err != nil {
		w.accountError(rw, r, err, r.PostForm)
		return
	}
	msg := "E-mail settings saved."
	switch {
	case strings.TrimSpace(email) == "":
		msg = "E-mail settings saved; without an address you get no e-mail."
	case !on:
		msg = "E-mail settings saved; you get no e-mail about your own work."
	}
	http.Redirect(rw, r, "/account?notice="+url.QueryEscape(msg)+"#email", http.StatusSeeOther)
}

// accountError shows a refused account form on the page; typed is the
// profile form's input to show again (never a password form's).
func (w *Web) accountError(rw http.ResponseWriter, r *http.Request, err error, typed url.Values) {
	p, ok := problem.As(err)
	if !ok || problem.HTTPStatus(p.Kind) == http.StatusUnauthorized {
		w.fail(rw, r, err)
		return
	}
	if s := problem.RetryAfter(p); s != "" {
		rw.Header().Set("Retry-After", s)
	}
	w.showAccount(rw, r, problem.HTTPStatus(p.Kind), p.Message, typed)
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
