package server_test

import (
	"context"

	"github.com/quenchhq/quench/internal/service"
)

// heartbeatRows: heartbeats are an admin's to manage, test alerts an
// admin's to send; pings take no token or session, only the key in the
// path, so every principal pings alike (an ingest-only token too). Each
// fixture gets a heartbeat.
func heartbeatRows(f *fixture) map[string]cell {
	key, h, err := f.app.Svc.CreateHeartbeat(context.Background(), service.System, service.NewHeartbeat{Name: "nightly-backup", Period: "1h",
		Labels: map[string]string{"service": "backup"}})
	if err != nil {
		panic(err) // rows have no *testing.T; the panic fails the test
	}
	ping := func(method, suffix string) cell {
		return cell{method, "/api/v1/ping/" + key + suffix, nil, false, with(all(200), ingestTok, 200)}
	}
	page := func(path string) cell { return cell{"GET", path, nil, false, with(adminOnly(200), anon, 303)} }
	post := func(path, body string, code int) cell { return cell{"POST", path, body, true, adminOnly(code)} }
	return map[string]cell{
		"GET /api/v1/heartbeats": {"GET", "/api/v1/heartbeats", nil, false, adminOnly(200)},
		"POST /api/v1/heartbeats": {"POST", "/api/v1/heartbeats", map[string]any{"name": "hourly-sync", "period": "1h", "grace": "10m",
			"labels": map[string]string{"service": "sync"}}, false, adminOnly(201)},
		"GET /api/v1/heartbeats/{id}":         {"GET", "/api/v1/heartbeats/" + h.ID, nil, false, adminOnly(200)},
		"DELETE /api/v1/heartbeats/{id}":      {"DELETE", "/api/v1/heartbeats/" + h.ID, nil, false, adminOnly(204)},
		"PATCH /api/v1/heartbeats/{id}":       {"PATCH", "/api/v1/heartbeats/" + h.ID, map[string]any{"period": "2h"}, false, adminOnly(200)},
		"POST /api/v1/heartbeats/{id}/rotate": {"POST", "/api/v1/heartbeats/" + h.ID + "/rotate", nil, false, adminOnly(200)},
		"POST /admin/heartbeats/{id}/edit":    post("/admin/heartbeats/"+h.ID+"/edit", "name=nightly-backup&period=2h&grace=10m&labels=service%3Dbackup", 303),
		"POST /admin/heartbeats/{id}/rotate":  post("/admin/heartbeats/"+h.ID+"/rotate", "confirm=1", 200),
		"POST /api/v1/integrations/{id}/test": {"POST", "/api/v1/integrations/" + f.integration + "/test", map[string]any{"severity": "warning"}, false, adminOnly(201)},
		"GET /api/v1/ping/{key}":              ping("GET", ""),
		"POST /api/v1/ping/{key}":             ping("POST", ""),
		"GET /api/v1/ping/{key}/start":        ping("GET", "/start"),
		"POST /api/v1/ping/{key}/start":       ping("POST", "/start"),
		"GET /api/v1/ping/{key}/fail":         ping("GET", "/fail"),
		"POST /api/v1/ping/{key}/fail":        ping("POST", "/fail"),
		"GET /admin/heartbeats":               page("/admin/heartbeats"),
		"POST /admin/heartbeats":              post("/admin/heartbeats", "name=hourly-sync&period=1h&grace=10m&labels=service%3Dsync", 200),
		"POST /admin/heartbeats/{id}/remove":  post("/admin/heartbeats/"+h.ID+"/remove", "confirm=1", 303),
		"POST /admin/integrations/{id}/test":  post("/admin/integrations/"+f.integration+"/test", "severity=warning", 303),
	}
}
