package api

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/heartbeat"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/service"
)

// PingPrefix is where jobs ping their heartbeats: the key in the path is
// the credential, so these routes take no token or session.
const PingPrefix = "/api/v1/ping/"

// MaxPingBody bounds the body of a ping (a failed run's log); the last
// heartbeat.MaxLog bytes of it are kept.
const MaxPingBody = 1 << 20

// HeartbeatJSON describes a heartbeat; its ping URL appears only in the
// create answer (Quench keeps a hash of its key).
type HeartbeatJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Period        string            `json:"period"`
	Grace         string            `json:"grace"`
	PeriodSeconds int64             `json:"period_seconds"`
	GraceSeconds  int64             `json:"grace_seconds"`
	Labels        map[string]string `json:"labels"`
	State         heartbeat.State   `json:"state"`
	Deadline      *time.Time        `json:"deadline,omitempty"`
	LastPingAt    *time.Time        `json:"last_ping_at,omitempty"`
	StartedAt     *time.Time        `json:"started_at,omitempty"`
	FailedAt      *time.Time        `json:"failed_at,omitempty"`
	DownSince     *time.Time        `json:"down_since,omitempty"`
	LastLog       string            `json:"last_log,omitempty"`
	Pings         int64             `json:"pings"`
	CreatedBy     string            `json:"created_by"`
	CreatedAt     time.Time         `json:"created_at"`
	PingURL       string            `json:"ping_url,omitempty"`
}

func (a *API) heartbeatJSON(h *heartbeat.Heartbeat, key string) HeartbeatJSON {
	j := HeartbeatJSON{ID: h.ID, Name: h.Name, Period: heartbeat.Format(h.Period), Grace: heartbeat.Format(h.Grace),
		PeriodSeconds: int64(h.Period / time.Second), GraceSeconds: int64(h.Grace / time.Second), Labels: h.Labels, State: h.State,
		LastPingAt: optTime(h.LastPingAt), StartedAt: optTime(h.StartedAt), FailedAt: optTime(h.FailedAt),
		DownSince: optTime(h.DownSince), LastLog: h.LastLog, Pings: h.Pings, CreatedBy: h.CreatedBy, CreatedAt: h.CreatedAt.UTC()}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	if h.State == heartbeat.Up {
		j.Deadline = optTime(h.Deadline)
	}
	if key != "" {
		j.PingURL = service.HeartbeatURL(a.baseURL, key)
	}
	return j
}

func (a *API) listHeartbeats(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Heartbeats(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]HeartbeatJSON, len(list))
	for i, h := range list {
		out[i] = a.heartbeatJSON(h, "")
	}
	return http.StatusOK, map[string]any{"heartbeats": out}, nil
}

type createHeartbeatRequest struct {
	Name   string            `json:"name"`
	Period string            `json:"period"`
	Grace  string            `json:"grace"`
	Labels map[string]string `json:"labels"`
}

func (a *API) createHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[createHeartbeatRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	key, h, err := a.svc.CreateHeartbeat(r.Context(), p, service.NewHeartbeat{Name: req.Name, Period: req.Period, Grace: req.Grace, Labels: req.Labels})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, a.heartbeatJSON(h, key), nil
}

func (a *API) getHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	h, err := a.svc.Heartbeat(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.heartbeatJSON(h, ""), nil
}

type editHeartbeatRequest struct {
	Name   *string           `json:"name"`
	Period *string           `json:"period"`
	Grace  *string           `json:"grace"`
	Labels map[string]string `json:"labels"`
}

// editHeartbeat changes a heartbeat's name, schedule or labels; fields
// left out stay, labels given replace all of them.
func (a *API) editHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	req, err := decode[editHeartbeatRequest](w, r)
	if err != nil {
		return 0, nil, err
	}
	h, err := a.svc.EditHeartbeat(r.Context(), p, r.PathValue("id"), service.HeartbeatEdit{Name: req.Name, Period: req.Period, Grace: req.Grace, Labels: req.Labels})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.heartbeatJSON(h, ""), nil
}

// rotateHeartbeat gives a heartbeat a new ping URL, in the answer only;
// the old one stops working at once.
func (a *API) rotateHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	if r.ContentLength > 0 {
		return 0, nil, problem.Invalidf("a rotation takes no body")
	}
	key, h, err := a.svc.RotateHeartbeat(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.heartbeatJSON(h, key), nil
}

func (a *API) deleteHeartbeat(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusNoContent, nil, a.svc.DeleteHeartbeat(r.Context(), p, r.PathValue("id"))
}

// ping records a ping of kind k: GET or POST, so a bare curl in a cron
// line will do. A failure's body, of any content type, is its log; the
// end of it is kept.
func (a *API) ping(k heartbeat.Kind) handler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Principal) (int, any, error) {
		var log string
		if k == heartbeat.Fail && r.Body != nil {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPingBody))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return 0, nil, problem.New(problem.TooLarge, "too_large", "the log is larger than %d bytes: send its end (tail -c 8192)", MaxPingBody)
				}
				return 0, nil, problem.Wrap(problem.Invalid, "invalid_request", err, "could not read the body")
			}
			log = heartbeat.LogTail(body)
		}
		h, err := a.svc.PingHeartbeat(r.Context(), r.PathValue("key"), k, log)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"ok": true, "state": h.State}, nil
	}
}

// testIntegration sends a test alert as the integration, through the
// intake path and the rules.
func (a *API) testIntegration(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var req struct {
		Severity string `json:"severity"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return 0, nil, err
		}
	}
	res, al, err := a.svc.TestIntegration(r.Context(), p, r.PathValue("id"), req.Severity)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"result": res, "fingerprint": al.Fingerprint, "labels": al.Labels}, nil
}

// LogPath is a request's path for logs: a heartbeat's key, a credential,
// is left out.
func LogPath(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, PingPrefix)
	if !ok {
		return r.URL.Path
	}
	_, kind, _ := strings.Cut(rest, "/")
	if kind != "" {
		kind = "/" + kind
	}
	return PingPrefix + "{key}" + kind
}
