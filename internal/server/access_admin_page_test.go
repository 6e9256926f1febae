package server_test

import "fmt"

// adminPageRows: admin pages are for admins (with the admin scope when a
// token is used); anonymous visitors are sent to sign in.
func adminPageRows(f *fixture) map[string]cell {
	page := func(path string) cell { return cell{"GET", path, nil, false, with(adminOnly(200), anon, 303)} }
	post := func(path, body string, code int) cell { return cell{"POST", path, body, true, adminOnly(code)} }
	return map[string]cell{
		"GET /admin":                   page("/admin"),
		"GET /admin/users":             page("/admin/users"),
		"POST /admin/users":            post("/admin/users", "username=new2&password=long-password-2", 303),
		"POST /admin/users/{username}": post("/admin/users/bo", "do=disable", 303),
		"GET /admin/tokens":            page("/admin/tokens"),
		// The admin-scope-only token cannot grant "read", which it lacks.
		"POST /admin/tokens":                   {"POST", "/admin/tokens", "user=bo&name=x&scope=read", true, with(adminOnly(200), adminScope, 403)},
		"POST /admin/tokens/{id}/revoke":       post(fmt.Sprintf("/admin/tokens/%d/revoke", f.victimToken), "", 303),
		"GET /admin/integrations":              page("/admin/integrations"),
		"POST /admin/integrations":             post("/admin/integrations", "type=generic&name=x3", 200),
		"POST /admin/integrations/{id}/remove": post("/admin/integrations/"+f.integration+"/remove", "confirm=1", 303),
		"GET /admin/onboard":                   page("/admin/onboard"),
		"POST /admin/onboard":                  post("/admin/onboard", "service=billing&namespace=payments", 200),
		"POST /admin/rules":                    post("/admin/rules", "action=inbox", 303),
		"POST /admin/rules/{id}/remove":        post("/admin/rules/1/remove", "", 303),
		"GET /admin/templates":                 page("/admin/templates"),
		"POST /admin/templates":                post("/admin/templates", "name=t3&phase_1=resolved&text_1=add+to+incident+log", 303),
		"GET /admin/templates/{id}":            page("/admin/templates/1"),
		"POST /admin/templates/{id}":           post("/admin/templates/1", "name=t4&phase_1=resolved&text_1=book+the+review", 303),
		"POST /admin/templates/{id}/remove":    post("/admin/templates/1/remove", "", 303),
		"GET /admin/sessions":                  page("/admin/sessions"),
		"POST /admin/sessions/{id}/revoke":     post("/admin/sessions/"+f.victimSess+"/revoke", "", 303),
		"GET /admin/audit":                     page("/admin/audit"),
		"GET /admin/settings":                  page("/admin/settings"),
	}
}
