package server_test

import "fmt"

// notifyPageRows: the notification admin pages are for admins (with the
// admin scope when a token is used), anonymous visitors are sent to sign
// in; the account page's e-mail form is for a person's browser session,
// like the password form (tokens use PATCH /api/v1/me).
func notifyPageRows(f *fixture) map[string]cell {
	page := func(path string) cell { return cell{"GET", path, nil, false, with(adminOnly(200), anon, 303)} }
	post := func(path, body string, code int) cell { return cell{"POST", path, body, true, adminOnly(code)} }
	ch := fmt.Sprintf("/admin/channels/%d", f.channel)
	return map[string]cell{
		"GET /admin/channels": page("/admin/channels"),
		// A webhook's secret is shown once, on the answer's page.
		"POST /admin/channels":              post("/admin/channels", "type=webhook&name=x5&audience=team&events=*&url=http%3A%2F%2F127.0.0.1%3A9%2Fx5", 200),
		"GET /admin/channels/{id}":          page(ch),
		"POST /admin/channels/{id}":         post(ch, "do=disable", 303),
		"POST /admin/channels/{id}/test":    post(ch+"/test", "", 303),
		"POST /admin/channels/{id}/remove":  post(ch+"/remove", "confirm=1", 303),
		"GET /admin/deliveries":             page("/admin/deliveries"),
		"POST /admin/deliveries/{id}/retry": post(fmt.Sprintf("/admin/deliveries/%d/retry", f.delivery.ID), "", 303),
		"POST /account/profile": {"POST", "/account/profile", "email=ana%40example.com&notify_email=1", true,
			with(all(403), anon, 401, session, 303)},
	}
}
