package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/status"
)

// The status page's administration (/admin/status): its settings,
// components, planned maintenance and subscribers. Admins only, like the
// rest of /admin.

type statusAdminData struct {
	Settings    status.Settings
	Components  []*status.Component
	Maintenance []*status.Maintenance
	Subscribers []*status.Subscriber
	Names       map[int64]string
	Email       bool
	Now         time.Time
}

func (w *Web) adminStatus(r *http.Request, p auth.Principal) (string, string, any, error) {
	ctx := r.Context()
	d := statusAdminData{Email: w.svc.EmailEnabled(), Now: w.svc.Now(), Names: map[int64]string{}}
	var err error
	if d.Settings, err = w.svc.StatusSettings(ctx, p); err != nil {
		return "", "", nil, err
	}
	if d.Components, err = w.svc.Components(ctx, p); err != nil {
		return "", "", nil, err
	}
	for _, c := range d.Components {
		d.Names[c.ID] = c.Name
	}
	if d.Maintenance, err = w.svc.Maintenance(ctx, p); err != nil {
		return "", "", nil, err
	}
	d.Subscribers, err = w.svc.Subscribers(ctx, p)
	return "Status page", "admin_status", d, err
}

func (w *Web) statusSettingsAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	_, err := w.svc.SaveStatusSettings(r.Context(), p, status.Settings{Name: f.Get("name"), LogoURL: f.Get("logo_url"),
		OrgURL: f.Get("org_url"), AutoPublishCritical: f.Get("auto_publish_critical") != ""})
	return notice("/admin/status", "Settings saved."), w.adminStatus, nil, err
}

// componentForm reads a component's fields from a form.
func componentForm(r *http.Request) (service.ComponentInput, error) {
	f := r.PostForm
	name, desc, group := f.Get("name"), f.Get("description"), f.Get("group")
	pos, err := strconv.Atoi(strings.TrimSpace(f.Get("position")))
	if f.Get("position") == "" {
		pos, err = 0, nil
	}
	if err != nil {
		return service.ComponentInput{}, problem.Unprocessablef("position must be a whole number")
	}
	services := splitList(f.Get("services"))
	return service.ComponentInput{Name: &name, Description: &desc, Group: &group, Position: &pos, Services: &services}, nil
}

func (w *Web) createComponentAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	in, err := componentForm(r)
	if err == nil {
		_, err = w.svc.CreateComponent(r.Context(), p, in)
	}
	return notice("/admin/status", "Component added."), w.adminStatus, nil, err
}

func (w *Web) changeComponentAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err != nil {
		return "", nil, nil, err
	}
	in, err := componentForm(r)
	if err == nil {
		_, err = w.svc.UpdateComponent(r.Context(), p, id, in)
	}
	return notice("/admin/status", "Component saved."), w.adminStatus, nil, err
}

func (w *Web) removeComponentAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.DeleteComponent(r.Context(), p, id)
	}
	return notice("/admin/status", "Component removed."), w.adminStatus, nil, err
}

// formTime reads a datetime-local field, in UTC.
func formTime(v, name string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, problem.Unprocessablef("%s is not a date and time", name)
}

func (w *Web) createMaintenanceAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	f := r.PostForm
	in := service.MaintenanceInput{Title: f.Get("title"), Body: f.Get("body")}
	var err error
	if in.Start, err = formTime(f.Get("starts_at"), "start"); err != nil {
		return "", w.adminStatus, nil, err
	}
	if in.End, err = formTime(f.Get("ends_at"), "end"); err != nil {
		return "", w.adminStatus, nil, err
	}
	for _, v := range f["component"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", w.adminStatus, nil, problem.Invalidf("unknown component")
		}
		in.Components = append(in.Components, id)
	}
	_, err = w.svc.CreateMaintenance(r.Context(), p, in)
	return notice("/admin/status", "Maintenance announced."), w.adminStatus, nil, err
}

func (w *Web) removeMaintenanceAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.DeleteMaintenance(r.Context(), p, id)
	}
	return notice("/admin/status", "Maintenance withdrawn."), w.adminStatus, nil, err
}

func (w *Web) removeSubscriberAction(r *http.Request, p auth.Principal) (string, adminView, *shown, error) {
	id, err := pathID(r)
	if err == nil {
		err = w.svc.RemoveSubscriber(r.Context(), p, id)
	}
	return notice("/admin/status", fmt.Sprintf("Subscriber %d removed.", id)), w.adminStatus, nil, err
}
