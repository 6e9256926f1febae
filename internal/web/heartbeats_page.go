package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

type heartbeatRow struct {
	*heartbeat.Heartbeat
	Period, Grace string
	Labels        string
}

type heartbeatsData struct {
	Heartbeats []heartbeatRow
}

// adminHeartbeats lists heartbeats: when each last pinged, when the next
// ping is due, which are down.
func (w *Web) adminHeartbeats(r *http.Request, p auth.Principal) (string, string, any, error) {
	list, err := w.svc.Heartbeats(r.Context(), p)
	if err != nil {
		return "", "", nil, err
	}
	var d heartbeatsData
	for _, h := range list {
		d.Heartbeats = append(d.Heartbeats, heartbeatRow{Heartbeat: h, Period: heartbeat.Format(h.Period), Grace: heartbeat.Format(h.Grace),
			Labels: labelsString(h.Labels)})
	}
	return "Heartbeats", "admin_heartbeats", d, nil
}

func labelsString(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// parseLabels reads "k=v" pairs separated by commas or new lines.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, problem.Unprocessablef("labels: write each as name=value, not %q", part)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out, nil
}

func (w *Web) createHeartbeatAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	labels, err := parseLabels(f.Get("labels"))
	if err != nil {
		return "", w.adminHeartbeats, nil, err
	}
	key, h, err := w.svc.CreateHeartbeat(r.Context(), p, service.NewHeartbeat{Name: f.Get("name"), Period: f.Get("period"), Grace: f.Get("grace"), Labels: labels})
	if err != nil {
		return "", w.adminHeartbeats, nil, err
	}
	return "", nil, w.pingURLShown("Heartbeat created", "Ping URL", key, h,
		"The URL is its own credential and is shown only now; to change it, rotate it on the heartbeats page."), nil
}

// pingURLShown shows a heartbeat's new ping URL (what names it), once,
// with the cron line that uses it.
func (w *Web) pingURLShown(title, what, key string, h *heartbeat.Heartbeat, hint string) *shown {
	u := service.HeartbeatURL(w.baseURL, key)
	return &shown{Title: title, Data: secretData{
		What:   fmt.Sprintf("%s of heartbeat %s (every %s, %s of grace)", what, h.Name, heartbeat.Format(h.Period), heartbeat.Format(h.Grace)),
		Secret: u, Back: "/admin/heartbeats", Hint: hint, Snippet: service.HeartbeatSnippet(u)}}
}

// editHeartbeatAction changes a heartbeat's name, schedule and labels
// from its row's form, which holds all four.
func (w *Web) editHeartbeatAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	labels, err := parseLabels(f.Get("labels"))
	if err != nil {
		return "", w.adminHeartbeats, nil, err
	}
	name, period, grace := f.Get("name"), f.Get("period"), f.Get("grace")
	h, err := w.svc.EditHeartbeat(r.Context(), p, r.PathValue("id"), service.HeartbeatEdit{Name: &name, Period: &period, Grace: &grace, Labels: labels})
	if err != nil {
		return "", w.adminHeartbeats, nil, err
	}
	return notice("/admin/heartbeats", fmt.Sprintf("Heartbeat %s saved: a ping every %s, %s of grace.", h.Name, heartbeat.Format(h.Period), heartbeat.Format(h.Grace))),
		w.adminHeartbeats, nil, nil
}

// rotateHeartbeatAction gives a heartbeat a new ping URL, shown once; the
// old one stops working at once, so it asks for a confirmation.
func (w *Web) rotateHeartbeatAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	if r.PostForm.Get("confirm") == "" {
		return "", w.adminHeartbeats, nil, problem.Unprocessablef("tick the box to confirm: the heartbeat's current ping URL will stop working")
	}
	key, h, err := w.svc.RotateHeartbeat(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return "", w.adminHeartbeats, nil, err
	}
	return "", nil, w.pingURLShown("Heartbeat ping URL rotated", "New ping URL", key, h,
		"The old URL answers 404 from now on: put this one in the job. It is shown only now."), nil
}

func (w *Web) removeHeartbeatAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	if r.PostForm.Get("confirm") == "" {
		return "", w.adminHeartbeats, nil, problem.Unprocessablef("tick the box to confirm: the heartbeat's ping URL will stop working")
	}
	err := w.svc.DeleteHeartbeat(r.Context(), p, r.PathValue("id"))
	return notice("/admin/heartbeats", "Heartbeat removed."), w.adminHeartbeats, nil, err
}

// testIntegrationAction sends a test alert as an integration and says
// where the rules put it.
func (w *Web) testIntegrationAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	res, _, err := w.svc.TestIntegration(r.Context(), p, r.PathValue("id"), r.PostForm.Get("severity"))
	if err != nil {
		return "", w.adminIntegrations, nil, err
	}
	msg := "Test alert sent: the rules put it in the inbox."
	switch {
	case len(res.Opened) > 0:
		msg = fmt.Sprintf("Test alert sent: the rules opened incident #%d (titled [test]).", res.Opened[0])
	case len(res.Attached) > 0:
		msg = fmt.Sprintf("Test alert sent: it joined incident #%d.", res.Attached[0])
	}
	return notice("/admin/integrations", msg), w.adminIntegrations, nil, nil
}
