package api

import (
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
)

// SessionJSON describes a browser session; its secret never leaves.
type SessionJSON struct {
	ID         string    `json:"id"`
	User       string    `json:"user"`
	Via        string    `json:"via"`
	UserAgent  string    `json:"user_agent"`
	Remote     string    `json:"remote"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func sessionJSON(s *auth.Session) SessionJSON {
	return SessionJSON{ID: s.ID, User: s.Username, Via: s.Via, UserAgent: s.UserAgent, Remote: s.Remote,
		CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC()}
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	list, err := a.svc.Sessions(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"sessions": mapAll(list, sessionJSON)}, nil
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusNoContent, nil, a.svc.RevokeSession(r.Context(), p, r.PathValue("id"), service.Client{Remote: r.RemoteAddr})
}

// AuditJSON is an audit log entry.
type AuditJSON struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"`
	Target string         `json:"target"`
	Remote string         `json:"remote"`
	Detail map[string]any `json:"detail"`
}

func auditJSON(e *auth.AuditEntry) AuditJSON {
	d := e.Detail
	if d == nil {
		d = map[string]any{}
	}
	return AuditJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Remote: e.Remote, Detail: d}
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	q, err := strictQuery(r, []string{"limit", "before"})
	if err != nil {
		return 0, nil, err
	}
	limit, err := queryInt(q, "limit", 100, 1, 1000)
	if err != nil {
		return 0, nil, err
	}
	before, err := queryInt(q, "before", 0, 0, 1<<62)
	if err != nil {
		return 0, nil, err
	}
	list, err := a.svc.Audit(r.Context(), p, limit, int64(before))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"audit": mapAll(list, auditJSON)}, nil
}
