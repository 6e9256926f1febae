package server_test

import (
	"context"
	"fmt"

	"github.com/quenchhq/quench/internal/service"
)

// reviewRows: the weekly review is the team's, so anonymous visitors get a
// 404 wherever it is (to them it does not exist); recording one needs
// write, the review day is the admins'. The insights and the incident
// log's export are for everyone, anonymous viewers seeing public
// incidents only.
func reviewRows(f *fixture) map[string]cell {
	// The fixture holds no review; the rows reading one need one.
	ctx := context.Background()
	id := int64(1)
	if list, err := f.app.Svc.Reviews(ctx, service.System, 1); err == nil && len(list) == 0 {
		rv, err := f.app.Svc.RecordReview(ctx, service.System, service.ReviewInput{Minutes: "weekly",
			Decisions: []service.DecisionInput{{Incident: 1, Text: "follow up"}}})
		if err != nil {
			panic(err)
		}
		id = rv.ID
	}
	team := func(code int) map[string]int { return with(all(code), anon, 404) }
	writer := func(code int) map[string]int { return with(write(code), anon, 404) }
	admins := func(code int) map[string]int { return with(adminOnly(code), anon, 404) }
	return map[string]cell{
		"GET /api/v1/review":             {"GET", "/api/v1/review", nil, false, team(200)},
		"GET /api/v1/reviews":            {"GET", "/api/v1/reviews", nil, false, team(200)},
		"POST /api/v1/reviews":           {"POST", "/api/v1/reviews", map[string]any{"minutes": "m", "decisions": []map[string]any{{"incident": 1, "text": "x"}}}, false, writer(201)},
		"GET /api/v1/reviews/{id}":       {"GET", fmt.Sprintf("/api/v1/reviews/%d", id), nil, false, team(200)},
		"GET /api/v1/review/schedule":    {"GET", "/api/v1/review/schedule", nil, false, team(200)},
		"PUT /api/v1/review/schedule":    {"PUT", "/api/v1/review/schedule", map[string]any{"weekday": "tuesday", "time": "10:00"}, false, admins(200)},
		"DELETE /api/v1/review/schedule": {"DELETE", "/api/v1/review/schedule", nil, false, admins(204)},
		"GET /api/v1/insights":           {"GET", "/api/v1/insights", nil, false, publicRead()},
		"GET /api/v1/log":                {"GET", "/api/v1/log?format=md", nil, false, publicRead()},
		"GET /review":                    {"GET", "/review", nil, false, team(200)},
		"POST /review":                   {"POST", "/review", "minutes=weekly&decision-1=follow+up", true, writer(303)},
		"POST /review/schedule":          {"POST", "/review/schedule", "weekday=tuesday&time=10%3A00&timezone=UTC", true, admins(303)},
		"GET /reviews/{id}":              {"GET", fmt.Sprintf("/reviews/%d", id), nil, false, team(200)},
		"GET /insights":                  {"GET", "/insights", nil, false, publicRead()},
		"GET /insights.csv":              {"GET", "/insights.csv?chart=services", nil, false, publicRead()},
	}
}
