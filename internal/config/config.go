// Package config reads Quench's settings from the environment (QUENCH_*),
// with *_FILE variants for secrets, validates them and prints them with the
// secrets redacted.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a Quench process.
type Config struct {
	Addr          string // QUENCH_ADDR
	DataDir       string // QUENCH_DATA_DIR
	DatabaseURL   string // QUENCH_DATABASE_URL (secret)
	BaseURL       string // QUENCH_BASE_URL: how users reach Quench
	AdminUser     string // QUENCH_ADMIN_USER
	AdminPassword string // QUENCH_ADMIN_PASSWORD (secret)
	LogLevel      string // QUENCH_LOG_LEVEL: debug, info, warn, error
	LogFormat     string // QUENCH_LOG_FORMAT: json or text
	// Synchronous is SQLite's synchronous pragma (QUENCH_SQLITE_SYNCHRONOUS).
	Synchronous     string
	PublicViewing   bool          // QUENCH_PUBLIC_VIEWING
	ShutdownTimeout time.Duration // QUENCH_SHUTDOWN_TIMEOUT
	SentryDSN       string        // SENTRY_DSN (secret)
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (QUENCH_TRUSTED_PROXIES): the load balancers in front of Quench. Any
	// other peer could claim any address and dodge the sign-in throttle.
	TrustedProxies []netip.Prefix
	// URL and Token are what the CLI's client commands talk to.
	URL   string // QUENCH_URL
	Token string // QUENCH_TOKEN (secret)
}

// Defaults are the settings of a fresh install.
func Defaults() Config {
	return Config{
		Addr: "127.0.0.1:8080", DataDir: "./quench-data", LogLevel: "info", LogFormat: "json",
		Synchronous: "FULL", PublicViewing: true, ShutdownTimeout: 30 * time.Second,
		URL: "http://127.0.0.1:8080",
	}
}

// FromEnv reads the configuration from getenv over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Defaults()
	var errs []error
	str := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	secret := func(dst *string, key string) {
		str(dst, key)
		if path := getenv(key + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", key, err))
				return
			}
			*dst = strings.TrimRight(string(b), "\r\n")
		}
	}
	str(&c.Addr, "QUENCH_ADDR")
	str(&c.DataDir, "QUENCH_DATA_DIR")
	secret(&c.DatabaseURL, "QUENCH_DATABASE_URL")
	str(&c.BaseURL, "QUENCH_BASE_URL")
	str(&c.AdminUser, "QUENCH_ADMIN_USER")
	secret(&c.AdminPassword, "QUENCH_ADMIN_PASSWORD")
	str(&c.LogLevel, "QUENCH_LOG_LEVEL")
	str(&c.LogFormat, "QUENCH_LOG_FORMAT")
	str(&c.Synchronous, "QUENCH_SQLITE_SYNCHRONOUS")
	secret(&c.SentryDSN, "SENTRY_DSN")
	str(&c.URL, "QUENCH_URL")
	secret(&c.Token, "QUENCH_TOKEN")
	if v := getenv("QUENCH_PUBLIC_VIEWING"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_PUBLIC_VIEWING: %q is not true or false", v))
		}
		c.PublicViewing = b
	}
	if v := getenv("QUENCH_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_SHUTDOWN_TIMEOUT: %q is not a duration like 30s", v))
		}
		c.ShutdownTimeout = d
	}
	if v := getenv("QUENCH_TRUSTED_PROXIES"); v != "" {
		ps, err := ParsePrefixes(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = ps
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

// ParsePrefixes reads a comma-separated list of CIDRs and single addresses
// (a single address is its own /32 or /128).
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8 or fd00::/8", f)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				// Peers are compared as plain IPv4: so are their ranges.
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or a CIDR like 10.0.0.0/8", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate checks the settings a server needs.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("QUENCH_ADDR %q is not host:port", c.Addr))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("QUENCH_BASE_URL %q is not an http(s) URL", c.BaseURL))
	}
	if c.DatabaseURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("QUENCH_DATA_DIR is empty"))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("QUENCH_DATABASE_URL must be a postgres:// URL"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("QUENCH_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("QUENCH_LOG_FORMAT %q: want json or text", c.LogFormat))
	}
	if s := strings.ToUpper(c.Synchronous); s != "FULL" && s != "NORMAL" {
		errs = append(errs, fmt.Errorf("QUENCH_SQLITE_SYNCHRONOUS %q: want FULL or NORMAL", c.Synchronous))
	}
	if (c.AdminUser == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("set both QUENCH_ADMIN_USER and QUENCH_ADMIN_PASSWORD, or neither"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("QUENCH_SHUTDOWN_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// Redacted lists the settings for logs, with secrets hidden.
func (c Config) Redacted() map[string]string {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return "<redacted>"
	}
	db := "sqlite:" + c.DataDir
	if c.DatabaseURL != "" {
		db = "postgres:" + hide(c.DatabaseURL)
	}
	return map[string]string{
		"addr": c.Addr, "base_url": c.BaseURL, "database": db, "log_level": c.LogLevel,
		"public_viewing": strconv.FormatBool(c.PublicViewing), "sqlite_synchronous": c.Synchronous,
		"admin_user": c.AdminUser, "admin_password": hide(c.AdminPassword), "sentry_dsn": hide(c.SentryDSN),
		"trusted_proxies": joinPrefixes(c.TrustedProxies),
	}
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}
