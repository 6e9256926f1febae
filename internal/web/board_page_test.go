package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// The getting-started card's curl hint works as printed: its headers and
// body, sent to a generic integration, deliver the alert (without the
// Content-Type it was a 415).
func TestSetupCurlHintDelivers(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	admin := app.User(t, "root", auth.RoleAdmin, auth.Scopes...)
	in := app.Must(t, 201, "POST", "/api/v1/integrations", admin, map[string]any{"type": "generic", "name": "cron"})
	_, board := signIn(t, app, "root").get("/")
	m := regexp.MustCompile(`<code>(curl [^<]*…/api/v1/intake/generic/ID)</code>`).FindStringSubmatch(board)
	if m == nil {
		t.Fatal("the board has no curl hint for the generic intake")
	}
	hint := html.UnescapeString(m[1])
	body := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(hint)
	if body == nil {
		t.Fatalf("no -d body in %s", hint)
	}
	req, _ := http.NewRequest("POST", app.URL+"/api/v1/intake/generic/"+in.JSON["id"].(string), strings.NewReader(body[1]))
	for _, h := range regexp.MustCompile(`-H (?:'([^']*)'|"([^"]*)")`).FindAllStringSubmatch(hint, -1) {
		name, value, _ := strings.Cut(h[1]+h[2], ": ")
		req.Header.Set(name, strings.ReplaceAll(value, "$TOKEN", in.JSON["token"].(string)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", hint, resp.StatusCode)
	}
}
