package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.Validate() != nil {
		t.Fatal(err, c.Validate())
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./quench-data" || c.BaseURL != "http://127.0.0.1:8080" || !c.PublicViewing {
		t.Fatalf("%+v", c)
	}
}

func TestSecretFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(path, []byte("s3cret-password\n"), 0o600)
	c, err := FromEnv(env(map[string]string{"QUENCH_ADMIN_USER": "admin", "QUENCH_ADMIN_PASSWORD_FILE": path}))
	if err != nil || c.AdminPassword != "s3cret-password" {
		t.Fatalf("%q %v", c.AdminPassword, err)
	}
	for k, v := range c.Redacted() {
		if strings.Contains(v, "s3cret") {
			t.Errorf("%s leaks the secret", k)
		}
	}
	if _, err := FromEnv(env(map[string]string{"QUENCH_TOKEN_FILE": "/nonexistent"})); err == nil {
		t.Error("missing secret file accepted")
	}
}

func TestValidate(t *testing.T) {
	bad := []map[string]string{
		{"QUENCH_ADDR": "nope"},
		{"QUENCH_DATABASE_URL": "mysql://x"},
		{"QUENCH_LOG_LEVEL": "loud"},
		{"QUENCH_ADMIN_USER": "admin"},
		{"QUENCH_SQLITE_SYNCHRONOUS": "OFF"},
		{"QUENCH_BASE_URL": "ftp://x"},
	}
	for _, m := range bad {
		c, err := FromEnv(env(m))
		if err == nil && c.Validate() == nil {
			t.Errorf("%v accepted", m)
		}
	}
	if _, err := FromEnv(env(map[string]string{"QUENCH_PUBLIC_VIEWING": "maybe"})); err == nil {
		t.Error("bad bool accepted")
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"QUENCH_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7,fd00::1/64 ,2001:db8::5,::ffff:172.16.0.0/108"}))
	if err != nil || c.Validate() != nil {
		t.Fatal(err, c.Validate())
	}
	want := "10.0.0.0/8,192.0.2.7/32,fd00::/64,2001:db8::5/128,172.16.0.0/12"
	if got := c.Redacted()["trusted_proxies"]; got != want {
		t.Fatalf("trusted proxies %q, want %q", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0", "192.0.2.7:80", "fe80::1%eth0"} {
		_, err := FromEnv(env(map[string]string{"QUENCH_TRUSTED_PROXIES": bad}))
		if err == nil || !strings.Contains(err.Error(), "QUENCH_TRUSTED_PROXIES") || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if c, _ := FromEnv(env(nil)); len(c.TrustedProxies) != 0 {
		t.Fatalf("trusted by default: %v", c.TrustedProxies)
	}
}

func TestNotificationSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtp")
	os.WriteFile(path, []byte("mail-s3cret\n"), 0o600)
	c, err := FromEnv(env(map[string]string{
		"QUENCH_SMTP_HOST": "mail.example.com", "QUENCH_SMTP_USERNAME": "quench", "QUENCH_SMTP_PASSWORD_FILE": path,
		"QUENCH_SMTP_FROM": "quench@example.com", "QUENCH_SMTP_TLS": "TLS",
		"QUENCH_OUTBOUND_ALLOW": "hooks.internal, 10.1.0.0/16", "QUENCH_UNOWNED_AFTER": "5m",
		"QUENCH_STUCK_AFTER": "mitigated=72h",
	}))
	if err != nil || c.Validate() != nil {
		t.Fatal(err, c.Validate())
	}
	if c.SMTP.Password != "mail-s3cret" || c.SMTP.Port != 465 || c.SMTP.TLS != "tls" || !c.SMTP.Enabled() {
		t.Fatalf("smtp %+v", c.SMTP)
	}
	if len(c.OutboundAllow) != 2 || c.OutboundAllow[1] != "10.1.0.0/16" || c.UnownedAfter.String() != "5m0s" {
		t.Fatalf("%v %v", c.OutboundAllow, c.UnownedAfter)
	}
	if c.StuckAfter["mitigated"].String() != "72h0m0s" || c.StuckAfter["active"].String() != "24h0m0s" {
		t.Fatalf("stuck %v", c.StuckAfter)
	}
	for k, v := range c.Redacted() {
		if strings.Contains(v, "s3cret") {
			t.Errorf("%s leaks the SMTP password", k)
		}
	}
	for _, bad := range []map[string]string{
		{"QUENCH_SMTP_HOST": "mail.example.com"}, // no From
		{"QUENCH_SMTP_HOST": "m", "QUENCH_SMTP_FROM": "q@example.com", "QUENCH_SMTP_TLS": "ssl3"},
		{"QUENCH_SMTP_HOST": "m", "QUENCH_SMTP_FROM": "q@example.com", "QUENCH_SMTP_USERNAME": "u"},
	} {
		c, err := FromEnv(env(bad))
		if err == nil && c.Validate() == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	for _, bad := range []map[string]string{
		{"QUENCH_SMTP_PORT": "0"}, {"QUENCH_UNOWNED_AFTER": "-1m"}, {"QUENCH_STUCK_AFTER": "closed=1h"}, {"QUENCH_STUCK_AFTER": "active=soon"},
	} {
		if _, err := FromEnv(env(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

// The CLI's client commands find the server by QUENCH_URL, else
// QUENCH_BASE_URL, else QUENCH_ADDR.
// The CLI's client commands reach the server at QUENCH_URL, else
// QUENCH_BASE_URL, else the listen address; the URLs it prints follow
// QUENCH_BASE_URL, else QUENCH_URL, else the listen address.
func TestClientURLFallback(t *testing.T) {
	for _, c := range []struct {
		env             map[string]string
		want, wantLinks string
	}{
		{map[string]string{}, "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{map[string]string{"QUENCH_ADDR": "127.0.0.1:9090"}, "http://127.0.0.1:9090", "http://127.0.0.1:9090"},
		{map[string]string{"QUENCH_ADDR": "0.0.0.0:9090"}, "http://127.0.0.1:9090", "http://0.0.0.0:9090"},
		{map[string]string{"QUENCH_ADDR": ":9090", "QUENCH_BASE_URL": "https://quench.example.com/"}, "https://quench.example.com", "https://quench.example.com"},
		{map[string]string{"QUENCH_ADDR": ":9090", "QUENCH_BASE_URL": "https://quench.example.com", "QUENCH_URL": "http://10.0.0.7:8080"}, "http://10.0.0.7:8080", "https://quench.example.com"},
		{map[string]string{"QUENCH_URL": "http://127.0.0.1:28411/"}, "http://127.0.0.1:28411/", "http://127.0.0.1:28411"},
	} {
		cfg, err := FromEnv(func(k string) string { return c.env[k] })
		if err != nil || cfg.URL != c.want || cfg.Links != c.wantLinks {
			t.Errorf("%v: URL %q, Links %q (%v), want %q, %q", c.env, cfg.URL, cfg.Links, err, c.want, c.wantLinks)
		}
	}
}
