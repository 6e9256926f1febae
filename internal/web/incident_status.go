package web

import (
	"net/http"
	"strconv"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
)

// The incident page's forms about what customers and viewers see:
// publishing to the status page under a customer-facing title, and the
// visibility of a link.

// publishAction publishes the incident (with the status title typed),
// changes its status title, or takes it off the status page.
func (w *Web) publishAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	title := r.PostForm.Get("status_title")
	patch := incident.Patch{StatusTitle: &title}
	switch r.PostForm.Get("do") {
	case "publish":
		on := true
		patch.OnStatusPage = &on
	case "unpublish":
		off := false
		patch = incident.Patch{OnStatusPage: &off}
	case "title":
	default:
		return "", problem.Invalidf("unknown status page action")
	}
	_, err := w.svc.UpdateIncident(r.Context(), p, n, patch)
	return "status-page", err
}

func (w *Web) linkVisibilityAction(r *http.Request, p auth.Principal, n int64) (string, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", problem.New(problem.NotFound, "not_found", "no such link")
	}
	_, err = w.svc.SetLinkVisibility(r.Context(), p, n, id, incident.Visibility(r.PostForm.Get("visibility")))
	return "links", err
}
