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

	"github.com/quenchhq/quench/internal/auth"
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
	LogFormat     string // QUENCH_LOG_FORMAT: json or text; empty: text on a terminal, else json
	// Synchronous is SQLite's synchronous pragma (QUENCH_SQLITE_SYNCHRONOUS).
	Synchronous     string
	PublicViewing   bool          // QUENCH_PUBLIC_VIEWING
	ShutdownTimeout time.Duration // QUENCH_SHUTDOWN_TIMEOUT
	SentryDSN       string        // SENTRY_DSN (secret)
	// SentryEnvironment tags error reports (SENTRY_ENVIRONMENT, default
	// production), so staging and production are told apart.
	SentryEnvironment string
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (QUENCH_TRUSTED_PROXIES): the load balancers in front of Quench. Any
	// other peer could claim any address and dodge the sign-in throttle.
	TrustedProxies []netip.Prefix
	// SMTP is the mail server for e-mail channels and personal e-mail
	// (QUENCH_SMTP_*); e-mail is off while Host is empty.
	SMTP SMTP
	// OutboundAllow names hosts or CIDRs that webhooks and Slack may reach
	// although they are private (QUENCH_OUTBOUND_ALLOW).
	OutboundAllow []string
	// UnownedAfter is how long an active incident may have no owner
	// before incident.unowned is sent (QUENCH_UNOWNED_AFTER).
	UnownedAfter time.Duration
	// StuckAfter is how long an incident may stay in a phase before
	// incident.stuck is sent and the review lists it
	// (QUENCH_STUCK_AFTER="active=24h,mitigated=168h,resolved=336h").
	StuckAfter map[string]time.Duration
	// URL and Token are what the CLI's client commands talk to.
	URL   string // QUENCH_URL
	Token string // QUENCH_TOKEN (secret)
	// Links is where the URLs the CLI prints (intake, ping) point:
	// QUENCH_BASE_URL when set, else QUENCH_URL when set (the server the
	// user reaches), else what the server would say (BaseURL).
	Links string
}

// SMTP says how to send e-mail.
type SMTP struct {
	Host     string // QUENCH_SMTP_HOST
	Port     int    // QUENCH_SMTP_PORT, default 587 (465 with TLS)
	Username string // QUENCH_SMTP_USERNAME
	Password string // QUENCH_SMTP_PASSWORD (secret)
	From     string // QUENCH_SMTP_FROM: the sender address
	// TLS is starttls (default: required), tls (implicit, port 465) or
	// none (only for a relay on the same host).
	TLS string // QUENCH_SMTP_TLS
}

// Enabled reports whether e-mail is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Defaults are the settings of a fresh install.
func Defaults() Config {
	return Config{
		Addr: "127.0.0.1:8080", DataDir: "./quench-data", LogLevel: "info",
		Synchronous: "FULL", PublicViewing: true, ShutdownTimeout: 30 * time.Second, SentryEnvironment: "production",
		SMTP: SMTP{TLS: "starttls"}, UnownedAfter: 10 * time.Minute,
		StuckAfter: map[string]time.Duration{"active": 24 * time.Hour, "mitigated": 7 * 24 * time.Hour, "resolved": 14 * 24 * time.Hour},
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
	str(&c.SentryEnvironment, "SENTRY_ENVIRONMENT")
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
	str(&c.SMTP.Host, "QUENCH_SMTP_HOST")
	str(&c.SMTP.Username, "QUENCH_SMTP_USERNAME")
	secret(&c.SMTP.Password, "QUENCH_SMTP_PASSWORD")
	str(&c.SMTP.From, "QUENCH_SMTP_FROM")
	if v := getenv("QUENCH_SMTP_TLS"); v != "" {
		c.SMTP.TLS = strings.ToLower(v)
	}
	if v := getenv("QUENCH_SMTP_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("QUENCH_SMTP_PORT: %q is not a port", v))
		}
		c.SMTP.Port = n
	}
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 587
		if c.SMTP.TLS == "tls" {
			c.SMTP.Port = 465
		}
	}
	for _, f := range strings.Split(getenv("QUENCH_OUTBOUND_ALLOW"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.OutboundAllow = append(c.OutboundAllow, f)
		}
	}
	if v := getenv("QUENCH_UNOWNED_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("QUENCH_UNOWNED_AFTER: %q is not a positive duration like 10m", v))
		}
		c.UnownedAfter = d
	}
	if v := getenv("QUENCH_STUCK_AFTER"); v != "" {
		if err := parseStuck(v, c.StuckAfter); err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_STUCK_AFTER: %w", err))
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	// The CLI finds the server the way the server describes itself:
	// QUENCH_URL, else QUENCH_BASE_URL, else QUENCH_ADDR (a wildcard
	// host reached on loopback).
	if c.URL == "" {
		c.URL = c.BaseURL
		if getenv("QUENCH_BASE_URL") == "" {
			host, port, err := net.SplitHostPort(c.Addr)
			if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
				host = "127.0.0.1"
			}
			c.URL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.Links = c.BaseURL
	if getenv("QUENCH_BASE_URL") == "" && getenv("QUENCH_URL") != "" {
		c.Links = strings.TrimRight(c.URL, "/")
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

// parseStuck reads "phase=duration" pairs into into.
func parseStuck(v string, into map[string]time.Duration) error {
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ph, ds, ok := strings.Cut(f, "=")
		ph = strings.TrimSpace(ph)
		if _, known := into[ph]; !ok || !known {
			return fmt.Errorf("%q: want phase=duration with phase active, mitigated or resolved", f)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil || d <= 0 {
			return fmt.Errorf("%q: %q is not a positive duration like 72h", f, ds)
		}
		into[ph] = d
	}
	return nil
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
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("QUENCH_LOG_FORMAT %q: want json or text (unset: text on a terminal, else json)", c.LogFormat))
	}
	if s := strings.ToUpper(c.Synchronous); s != "FULL" && s != "NORMAL" {
		errs = append(errs, fmt.Errorf("QUENCH_SQLITE_SYNCHRONOUS %q: want FULL or NORMAL", c.Synchronous))
	}
	if (c.AdminUser == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("set both QUENCH_ADMIN_USER and QUENCH_ADMIN_PASSWORD, or neither"))
	} else if c.AdminUser != "" {
		// The account rules themselves, so serve refuses these before
		// it creates or migrates a database, and config check with it.
		if _, err := auth.CheckUsername(c.AdminUser); err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_ADMIN_USER %q: %v", c.AdminUser, err))
		}
		if err := auth.CheckPassword(c.AdminPassword); err != nil {
			errs = append(errs, fmt.Errorf("QUENCH_ADMIN_PASSWORD: %v", err))
		}
	}
	if c.SentryDSN != "" {
		if u, err := url.Parse(c.SentryDSN); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User == nil {
			errs = append(errs, errors.New("SENTRY_DSN is not a DSN like https://KEY@sentry.example.com/1"))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("QUENCH_SHUTDOWN_TIMEOUT must be positive"))
	}
	if c.SMTP.Enabled() {
		if c.SMTP.From == "" {
			errs = append(errs, errors.New("QUENCH_SMTP_FROM is required with QUENCH_SMTP_HOST: the address e-mail comes from"))
		}
		switch c.SMTP.TLS {
		case "starttls", "tls", "none":
		default:
			errs = append(errs, fmt.Errorf("QUENCH_SMTP_TLS %q: want starttls, tls or none", c.SMTP.TLS))
		}
		if c.SMTP.Username != "" && c.SMTP.Password == "" {
			errs = append(errs, errors.New("QUENCH_SMTP_USERNAME is set but QUENCH_SMTP_PASSWORD (or _FILE) is not"))
		}
	}
	return errors.Join(errs...)
}

// Redacted lists the settings for logs and `quench config check`, with
// secrets hidden: a secret shows only whether it is set.
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
		"addr": c.Addr, "base_url": c.BaseURL, "database": db, "log_level": c.LogLevel, "log_format": logFormat(c.LogFormat),
		"public_viewing": strconv.FormatBool(c.PublicViewing), "sqlite_synchronous": c.Synchronous,
		"shutdown_timeout": c.ShutdownTimeout.String(),
		"admin_user":       c.AdminUser, "admin_password": hide(c.AdminPassword),
		"sentry_dsn": hide(c.SentryDSN), "sentry_environment": c.SentryEnvironment,
		"trusted_proxies": joinPrefixes(c.TrustedProxies),
		"smtp":            smtpSummary(c.SMTP), "smtp_password": hide(c.SMTP.Password),
		"outbound_allow": strings.Join(c.OutboundAllow, ","), "unowned_after": c.UnownedAfter.String(),
		"stuck_after": fmt.Sprintf("active=%s,mitigated=%s,resolved=%s", c.StuckAfter["active"], c.StuckAfter["mitigated"], c.StuckAfter["resolved"]),
	}
}

func smtpSummary(s SMTP) string {
	if !s.Enabled() {
		return "off"
	}
	user := ""
	if s.Username != "" {
		user = s.Username + "@"
	}
	return fmt.Sprintf("%s%s:%d (%s) from %s", user, s.Host, s.Port, s.TLS, s.From)
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// logFormat names the format for the settings dump; unset chooses by
// whether stderr is a terminal.
func logFormat(f string) string {
	if f == "" {
		return "auto"
	}
	return f
}
