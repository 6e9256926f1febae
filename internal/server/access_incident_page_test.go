package server_test

// incidentPageRows are the access-matrix rows of the incident page and its
// forms: viewers read public incidents; writers post; the rest are refused.
func incidentPageRows(f *fixture) map[string]cell {
	form := func(method, path, body string) cell { return cell{method, path, body, true, write(303)} }
	return map[string]cell{
		"GET /incidents/{number}":                          {"GET", "/incidents/1", nil, false, publicRead()},
		"POST /incidents/{number}/transition":              form("POST", "/incidents/1/transition", "to=mitigated&note=restarted"),
		"POST /incidents/{number}/merge":                   form("POST", "/incidents/1/merge", "into=2&reason=same+outage"),
		"POST /incidents/{number}/cancel":                  form("POST", "/incidents/1/cancel", "reason=a+test"),
		"POST /incidents/{number}/updates":                 form("POST", "/incidents/1/updates", "body=hello"),
		"POST /incidents/{number}/updates/{id}/visibility": form("POST", "/incidents/1/updates/1/visibility", "visibility=internal"),
		"POST /incidents/{number}/checklist":               form("POST", "/incidents/1/checklist", "text=check"),
		"POST /incidents/{number}/checklist/{id}":          form("POST", "/incidents/1/checklist/1", "do=tick"),
		"POST /incidents/{number}/links":                   form("POST", "/incidents/1/links", "url=https%3A%2F%2Fx.example"),
		"POST /incidents/{number}/links/{id}/remove":       form("POST", "/incidents/1/links/1/remove", ""),
		"POST /incidents/{number}/attachments":             {"POST", "/incidents/1/attachments", uploadBody(), false, write(303)},
		"POST /incidents/{number}/owners":                  form("POST", "/incidents/1/owners", "phase=mitigated&owner=bo"),
		"POST /incidents/{number}/edit":                    form("POST", "/incidents/1/edit", "title=renamed&severity=major&detection_source=team&visibility=public"),
	}
}
