package server_test

import "fmt"

// notifyRows: channels are for admins; the outbox is the team's to read
// (its messages may be internal) and an admin's to retry; one's own
// profile needs a person or a token that may write.
func notifyRows(f *fixture) map[string]cell {
	ch := fmt.Sprintf("/api/v1/channels/%d", f.channel)
	return map[string]cell{
		"GET /api/v1/channels":               {"GET", "/api/v1/channels", nil, false, adminOnly(200)},
		"POST /api/v1/channels":              {"POST", "/api/v1/channels", map[string]any{"type": "webhook", "name": "x4", "url": "http://127.0.0.1:9/x4", "audience": "public"}, false, adminOnly(201)},
		"GET /api/v1/channels/{id}":          {"GET", ch, nil, false, adminOnly(200)},
		"PATCH /api/v1/channels/{id}":        {"PATCH", ch, map[string]any{"name": "renamed"}, false, adminOnly(200)},
		"DELETE /api/v1/channels/{id}":       {"DELETE", ch, nil, false, adminOnly(204)},
		"POST /api/v1/channels/{id}/test":    {"POST", ch + "/test", nil, false, adminOnly(202)},
		"GET /api/v1/deliveries":             {"GET", "/api/v1/deliveries", nil, false, teamRead()},
		"POST /api/v1/deliveries/{id}/retry": {"POST", fmt.Sprintf("/api/v1/deliveries/%d/retry", f.delivery.ID), nil, false, adminOnly(202)},
		"PATCH /api/v1/me": {"PATCH", "/api/v1/me", map[string]any{"email": "me@example.com"}, false,
			with(all(200), anon, 401, readTok, 403)},
	}
}
