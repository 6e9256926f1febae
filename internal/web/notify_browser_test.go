package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/notify/email"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// TestNotificationsInBrowser drives the channel, deliveries and account
// pages in headless Chromium, with the outbox worker sending to a loopback
// receiver.
func TestNotificationsInBrowser(t *testing.T) {
	app := testenv.StartApp(t, store.SQLite)
	app.User(t, "root", auth.RoleAdmin)
	app.User(t, "ana", auth.RoleResponder)
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path+" "+r.Header.Get("Webhook-Id"))
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); app.Outbox(email.Config{}).Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	testenv.RunBrowserTests(t, app.URL, map[string]any{"receiver": receiver.URL,
		"root": map[string]string{"user": "root", "password": "password-root"},
		"ana":  map[string]string{"user": "ana", "password": "password-ana"}}, "notify.test.mjs")

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "/hooks/PATH-SECRET ") || len(got[0]) == len("/hooks/PATH-SECRET ") {
		t.Errorf("the receiver got %q, want one test message with a webhook-id", got)
	}
	p, err := app.Svc.MyProfile(context.Background(), mustPrincipal(t, app, app.Token(t, "ana")))
	if err != nil || p.User.Email != "ana@example.com" || p.NotifyEmail {
		t.Errorf("ana's profile: %v %q %v", err, p.User.Email, p.NotifyEmail)
	}
}
