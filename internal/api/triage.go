package api

import (
	"context"
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/alert"
	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

type triageRequest struct {
	Alerts []int64 `json:"alerts"`
	Reason string  `json:"reason"`
}

func (a *API) ackAlerts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[triageRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	if req.Reason != "" {
		return 0, nil, problem.Invalidf("an acknowledgement takes no reason")
	}
	list, err := a.svc.AckAlerts(r.Context(), p, req.Alerts)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON)}, nil
}

func (a *API) dismissAlerts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[triageRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.DismissAlerts(r.Context(), p, req.Alerts, req.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON)}, nil
}

// undoTriage runs an undo of triage (unack, restore): it names alerts and
// takes no reason.
func (a *API) undoTriage(do func(ctx context.Context, p auth.Principal, ids []int64) ([]*alert.Record, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
		req, err := decode[triageRequest](w, r)
		if err != nil {
			return 0, nil, err
		}
		if req.Reason != "" {
			return 0, nil, problem.Invalidf("an undo takes no reason")
		}
		list, err := do(r.Context(), p, req.Alerts)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"alerts": mapAll(list, alertJSON)}, nil
	}
}

// SnoozeJSON is a snooze of API v1.
type SnoozeJSON struct {
	ID        int64     `json:"id"`
	Matchers  string    `json:"matchers"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	EndsAt    time.Time `json:"ends_at"`
}

func snoozeJSON(s *alert.Snooze) SnoozeJSON {
	return SnoozeJSON{ID: s.ID, Matchers: s.MatchersString(), Reason: s.Reason, CreatedBy: s.CreatedBy,
		CreatedAt: s.CreatedAt.UTC(), EndsAt: s.EndsAt.UTC()}
}

type snoozeRequest struct {
	Matchers string `json:"matchers"`
	// Duration is how long the snooze holds: a Go duration ("90m",
	// "2h30m") or whole days ("3d").
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
}

func (a *API) createSnooze(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[snoozeRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	if req.Duration == "" {
		return 0, nil, problem.Invalidf("duration is required, such as \"2h\"")
	}
	d, err := service.ParseSpan(req.Duration)
	if err != nil {
		return 0, nil, err
	}
	sn, err := a.svc.CreateSnooze(r.Context(), p, serviceSnooze(req.Matchers, d, req.Reason))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, snoozeJSON(sn), nil
}

func (a *API) listSnoozes(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	if _, err := strictQuery(r, nil); err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Snoozes(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"snoozes": mapAll(list, snoozeJSON)}, nil
}

func (a *API) deleteSnooze(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, a.svc.DeleteSnooze(r.Context(), p, id)
}

func serviceSnooze(matchers string, d time.Duration, reason string) service.NewSnooze {
	return service.NewSnooze{Matchers: matchers, For: d, Reason: reason}
}
