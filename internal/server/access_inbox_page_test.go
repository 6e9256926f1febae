package server_test

// inboxPageRows: the alert inbox is the team's; opening incidents needs
// write; the incident log and its exports are for everyone (filtered).
func inboxPageRows(f *fixture) map[string]cell {
	return map[string]cell{
		"GET /alerts":          {"GET", "/alerts", nil, false, with(all(200), anon, 303)},
		"POST /alerts/declare": {"POST", "/alerts/declare", "alert=1", true, write(303)},
		"POST /alerts/attach":  {"POST", "/alerts/attach", "alert=1&incident=1", true, write(303)},
		// Triage is the team's; viewers and read-only tokens are refused.
		"POST /alerts/ack":                 {"POST", "/alerts/ack", "alert=1", true, write(303)},
		"POST /alerts/dismiss":             {"POST", "/alerts/dismiss", "alert=1&reason=noise", true, write(303)},
		"POST /alerts/snoozes":             {"POST", "/alerts/snoozes", "matchers=alertname%3D%22x%22&duration=1h", true, write(303)},
		"POST /alerts/snoozes/{id}/remove": {"POST", "/alerts/snoozes/1/remove", "", true, write(303)},
		"GET /incidents/new":               {"GET", "/incidents/new", nil, false, with(write(200), anon, 303)},
		"POST /incidents":                  {"POST", "/incidents", "title=x", true, write(303)},
		"GET /incidents":                   {"GET", "/incidents", nil, false, all(200)},
		// The old export addresses lead to GET /api/v1/log.
		"GET /incidents.csv":  {"GET", "/incidents.csv", nil, false, all(301)},
		"GET /incidents.json": {"GET", "/incidents.json", nil, false, all(301)},
	}
}
