package web

import (
	"net/http"
	"strconv"

	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
)

// The status page's forms, for customers without an account: report a
// problem, subscribe, confirm, unsubscribe. They work without JavaScript
// and without a session; a signed-in visitor's form carries the session's
// CSRF token like every other form. A GET never changes anything: the
// links in e-mails open a page with a button, so a mail scanner that
// follows them confirms or ends nothing. The one exception to needing the
// button is the one-click unsubscribe of RFC 8058, which mail clients send
// as a POST.

// honeypot is a field people never see (hidden by the style sheet and
// from screen readers) that form-filling robots fill in.
const honeypot = "website"

// maxStatusForm bounds the forms' bodies.
const maxStatusForm = 64 << 10

type reportForm struct {
	Components []*status.ComponentView
	Text       string
	Contact    string
	Component  int64
	Sent       bool
	MaxText    int
}

func (w *Web) reportPage(rw http.ResponseWriter, r *http.Request) {
	w.showReport(rw, r, http.StatusOK, "", reportForm{Sent: r.URL.Query().Get("sent") != ""})
}

func (w *Web) showReport(rw http.ResponseWriter, r *http.Request, code int, msg string, f reportForm) {
	p, err := w.svc.StatusPage(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	f.Components, f.MaxText = p.Components, service.MaxReportBytes
	w.renderStatus(rw, r, code, "report", &statusView{Title: "Report a problem", Site: w.site(p), Error: msg, Data: f})
}

// statusForm reads a form of the status page; false means an answer was
// sent already.
func (w *Web) statusForm(rw http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(rw, r.Body, maxStatusForm)
	if err := r.ParseForm(); err != nil {
		w.fail(rw, r, problem.New(problem.TooLarge, "too_large", "The form is too large."))
		return false
	}
	return true
}

func (w *Web) reportAction(rw http.ResponseWriter, r *http.Request) {
	if !w.statusForm(rw, r) {
		return
	}
	f := reportForm{Text: r.PostForm.Get("text"), Contact: r.PostForm.Get("contact")}
	f.Component, _ = strconv.ParseInt(r.PostForm.Get("component"), 10, 64)
	if r.PostForm.Get(honeypot) != "" {
		// A robot: it gets the answer a person gets, and nothing is kept.
		http.Redirect(rw, r, "/status/report?sent=1", http.StatusSeeOther)
		return
	}
	err := w.svc.ReportProblem(r.Context(), service.NewReport{Text: f.Text, Contact: f.Contact, Component: f.Component, Remote: r.RemoteAddr})
	if err != nil {
		w.formFailed(rw, r, err, func(code int, msg string) { w.showReport(rw, r, code, msg, f) })
		return
	}
	http.Redirect(rw, r, "/status/report?sent=1", http.StatusSeeOther)
}

// formFailed shows what the visitor can fix (or wait out) on the form
// again, and anything else as an error page.
func (w *Web) formFailed(rw http.ResponseWriter, r *http.Request, err error, again func(code int, msg string)) {
	pr, ok := problem.As(err)
	if !ok || pr.Kind == problem.Internal || pr.Kind == problem.Unavailable {
		w.fail(rw, r, err)
		return
	}
	if s := problem.RetryAfter(pr); s != "" {
		rw.Header().Set("Retry-After", s)
	}
	again(problem.HTTPStatus(pr.Kind), pr.Message)
}

type subscribeForm struct {
	Components []*status.ComponentView
	Email      string
	Chosen     map[int64]bool
	Sent       bool
}

func (w *Web) subscribePage(rw http.ResponseWriter, r *http.Request) {
	w.showSubscribe(rw, r, http.StatusOK, "", subscribeForm{Sent: r.URL.Query().Get("sent") != ""})
}

func (w *Web) showSubscribe(rw http.ResponseWriter, r *http.Request, code int, msg string, f subscribeForm) {
	if !w.svc.EmailEnabled() {
		w.fail(rw, r, problem.New(problem.NotFound, "email_disabled", "This status page does not send e-mail; follow its Atom feed instead."))
		return
	}
	p, err := w.svc.StatusPage(r.Context())
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	f.Components = p.Components
	w.renderStatus(rw, r, code, "subscribe", &statusView{Title: "Subscribe to updates", Site: w.site(p), Error: msg, Data: f})
}

func (w *Web) subscribeAction(rw http.ResponseWriter, r *http.Request) {
	if !w.statusForm(rw, r) {
		return
	}
	f := subscribeForm{Email: r.PostForm.Get("email"), Chosen: map[int64]bool{}}
	var ids []int64
	for _, v := range r.PostForm["component"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			ids = append(ids, id)
			f.Chosen[id] = true
		}
	}
	if r.PostForm.Get(honeypot) != "" {
		http.Redirect(rw, r, "/status/subscribe?sent=1", http.StatusSeeOther)
		return
	}
	err := w.svc.SubscribeToStatus(r.Context(), service.Subscription{Email: f.Email, Components: ids, Remote: r.RemoteAddr})
	if err != nil {
		w.formFailed(rw, r, err, func(code int, msg string) { w.showSubscribe(rw, r, code, msg, f) })
		return
	}
	http.Redirect(rw, r, "/status/subscribe?sent=1", http.StatusSeeOther)
}

// linkForm is the page behind a confirmation or unsubscribe link.
type linkForm struct {
	Action, Token, Button, Text string
	Done                        bool
}

func (w *Web) linkPage(purpose, action, button, text string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		site, err := w.statusSite(r)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		token := r.URL.Query().Get("token")
		if err := w.svc.CheckSubscriberLink(r.Context(), purpose, token); err != nil {
			w.linkFailed(rw, r, site, err)
			return
		}
		w.renderStatus(rw, r, http.StatusOK, "link", &statusView{Title: button, Site: site,
			Data: linkForm{Action: action, Token: token, Button: button, Text: text}})
	}
}

func (w *Web) linkFailed(rw http.ResponseWriter, r *http.Request, site siteView, err error) {
	pr, ok := problem.As(err)
	if !ok || pr.Kind != problem.NotFound {
		w.fail(rw, r, err)
		return
	}
	w.renderStatus(rw, r, http.StatusNotFound, "link", &statusView{Title: "Link not valid", Site: site, Error: pr.Message,
		Data: linkForm{}})
}

func (w *Web) linkAction(do func(*http.Request, string) error, title, text string) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if !w.statusForm(rw, r) {
			return
		}
		site, err := w.statusSite(r)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		token := r.PostForm.Get("token")
		if token == "" {
			token = r.URL.Query().Get("token")
		}
		if err := do(r, token); err != nil {
			w.linkFailed(rw, r, site, err)
			return
		}
		w.renderStatus(rw, r, http.StatusOK, "link", &statusView{Title: title, Site: site, Data: linkForm{Done: true, Text: text}})
	}
}

func (w *Web) confirmPage() http.HandlerFunc {
	return w.linkPage("confirm", "/status/confirm", "Confirm my subscription",
		"Press the button to receive an e-mail whenever the status of this service changes.")
}

func (w *Web) confirmAction() http.HandlerFunc {
	return w.linkAction(func(r *http.Request, token string) error { return w.svc.ConfirmSubscription(r.Context(), token) },
		"Subscribed", "You are subscribed. Every message has a link to unsubscribe.")
}

func (w *Web) unsubscribePage() http.HandlerFunc {
	return w.linkPage("unsubscribe", "/status/unsubscribe", "Unsubscribe",
		"Press the button to stop receiving e-mail about the status of this service.")
}

func (w *Web) unsubscribeAction() http.HandlerFunc {
	return w.linkAction(func(r *http.Request, token string) error { return w.svc.Unsubscribe(r.Context(), token) },
		"Unsubscribed", "You are unsubscribed; no more e-mail will come.")
}
