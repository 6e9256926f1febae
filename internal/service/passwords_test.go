package service_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/testenv"
)

// Beyond the bound on concurrent password hashing every path that hashes
// answers a fast 503 with Retry-After: the sign-in page, creating a user,
// an admin's reset and a person's own change. The refused sign-in is not
// a failed one: it neither counts towards the throttle nor fills the audit
// log.
func TestPasswordHashingBeyondTheBoundIs503(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			app := testenv.StartApp(t, d, func(o *service.Options) { o.HashSlots, o.HashQueue = 1, -1 })
			ctx := context.Background()
			admin := app.User(t, "root", auth.RoleAdmin, auth.ScopeRead, auth.ScopeAdmin)
			app.User(t, "ana", auth.RoleResponder)
			cookie, sess, err := app.Svc.Login(ctx, "ana", "password-ana", service.Client{})
			if err != nil {
				t.Fatal(err)
			}
			release := app.Svc.HoldHashing()
			form := func(kv ...string) string {
				v := url.Values{}
				for i := 0; i+1 < len(kv); i += 2 {
					v.Set(kv[i], kv[i+1])
				}
				return v.Encode()
			}
			formType := []string{"Content-Type", "application/x-www-form-urlencoded"}
			for _, tt := range []struct {
				name, method, path, token string
				body                      any
				headers                   []string
			}{
				{"sign-in page", "POST", "/login", "", form("username", "ana", "password", "password-ana"), formType},
				{"sign-in page, unknown user", "POST", "/login", "", form("username", "ghost", "password", "password-ghost"), formType},
				{"API: create user", "POST", "/api/v1/users", admin, map[string]any{"username": "bo", "password": "password-bo"}, nil},
				{"API: reset password", "PATCH", "/api/v1/users/ana", admin, map[string]any{"password": "reset-by-admin-1"}, nil},
				{"own password", "POST", "/account/password", "", form("csrf", sess.CSRF, "current", "password-ana", "new", "another-pass-1", "confirm", "another-pass-1"),
					append(formType, "Cookie", "quench_session="+cookie)},
			} {
				r := app.Request(t, tt.method, tt.path, tt.token, tt.body, tt.headers...)
				if r.Status != 503 || r.Header.Get("Retry-After") != "1" {
					t.Errorf("%s: %d, Retry-After %q: %.200s", tt.name, r.Status, r.Header.Get("Retry-After"), r.Body)
				}
				if r.JSON != nil && r.Code() != "busy" {
					t.Errorf("%s: code %q", tt.name, r.Code())
				}
				if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") && !strings.Contains(string(r.Body), "busy checking passwords") {
					t.Errorf("%s: page does not say why", tt.name)
				}
			}
			release()
			// Nothing changed, nothing was counted as a failure.
			if _, _, err := app.Svc.Login(ctx, "ana", "password-ana", service.Client{}); err != nil {
				t.Fatalf("sign in after the burst: %v", err)
			}
			entries, err := app.Svc.Audit(ctx, service.System, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Action, "login_") || e.Action == "password_reset" || e.Action == "password_changed" || e.Target == "bo" {
					t.Errorf("refused request left %s %s", e.Action, e.Target)
				}
			}
			r := app.Must(t, 201, "POST", "/api/v1/users", admin, map[string]any{"username": "bo", "password": "password-bo"})
			if r.JSON["username"] != "bo" {
				t.Fatalf("create after the burst: %s", r.Body)
			}
		})
	}
}

// oldHash is "correct horse battery" hashed by the parameters Quench
// shipped first (64 MiB, t=3, p=2).
const oldHash = "$argon2id$v=19$m=65536,t=3,p=2$bR+B8thAuwyhz1lwFN/Qyw$+oCD//QLfW8s2JGIAUrZyQxb0QESX8IwgQeN/1XUPxk"

// Accounts hashed with older parameters still sign in, and their hash is
// replaced by one with today's parameters on the way.
func TestOldHashSignsInAndIsRehashed(t *testing.T) {
	testenv.EachApp(t, func(t *testing.T, app *testenv.App) {
		ctx := context.Background()
		app.User(t, "ana", auth.RoleResponder)
		var id int64
		err := app.Store.Write(ctx, func(tx *store.Tx) error {
			u, err := tx.UserByName(ctx, "ana")
			if err != nil {
				return err
			}
			id = u.ID
			_, err = tx.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, oldHash, app.Clock.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		hash := func() string {
			var u *auth.User
			if err := app.Store.Read(ctx, func(tx *store.Tx) (err error) { u, err = tx.UserByID(ctx, id); return err }); err != nil {
				t.Fatal(err)
			}
			return u.PasswordHash
		}
		if _, _, err := app.Svc.Login(ctx, "ana", "wrong password!", service.Client{}); err == nil {
			t.Fatal("wrong password accepted against the old hash")
		}
		if hash() != oldHash {
			t.Fatal("a failed sign-in replaced the hash")
		}
		if _, _, err := app.Svc.Login(ctx, "ana", "correct horse battery", service.Client{}); err != nil {
			t.Fatalf("old hash: %v", err)
		}
		fresh := hash()
		if fresh == oldHash || testenv.CheapHasher.Outdated(fresh) || !auth.VerifyPassword(fresh, "correct horse battery") {
			t.Fatalf("not re-hashed with today's parameters: %q", fresh)
		}
		if _, _, err := app.Svc.Login(ctx, "ana", "correct horse battery", service.Client{}); err != nil || hash() != fresh {
			t.Fatalf("second sign-in: %v, hash changed again: %v", err, hash() != fresh)
		}
	})
}

// An unknown user name costs what a real account's sign-in costs: the
// dummy hash it is checked against has today's parameters.
func TestDummyHashHasTodaysParameters(t *testing.T) {
	if h := service.New(nil, service.Options{}).DummyHash(); auth.DefaultHasher.Outdated(h) {
		t.Fatalf("default dummy hash %q", h)
	}
	if h := service.New(nil, service.Options{Hasher: testenv.CheapHasher}).DummyHash(); testenv.CheapHasher.Outdated(h) {
		t.Fatalf("dummy hash %q for hasher %+v", h, testenv.CheapHasher)
	}
}
