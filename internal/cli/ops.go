package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/build"
	"github.com/quenchhq/quench/internal/config"
	"github.com/quenchhq/quench/internal/oidc"
)

// Commands for whoever runs Quench: the version, health checks for
// container runtimes that have no curl, the effective configuration.
// Backups are in backup.go.

func versionCmd(env Env) error {
	fmt.Fprintln(env.Stdout, "quench", build.Read())
	return nil
}

// healthcheck asks a running server's /healthz and fails unless it answers
// 200: a container image without curl or a shell uses it as HEALTHCHECK.
// Without an argument it asks QUENCH_ADDR on loopback.
func healthcheck(ctx context.Context, cfg config.Config, env Env, args []string) error {
	if len(args) > 1 {
		return usageErr("healthcheck [URL]")
	}
	target := ""
	if len(args) == 1 {
		u, err := url.Parse(args[0])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("healthcheck URL: %q is not an http(s) URL", args[0])
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/healthz"
		}
		target = u.String()
	} else {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("QUENCH_ADDR %q is not host:port", cfg.Addr)
		}
		// A server listening on every address is reached on loopback.
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		target = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, resp.Status)
	}
	fmt.Fprintf(env.Stdout, "ok: %s\n", target)
	return nil
}

// configCmd prints the effective configuration with secrets redacted and
// fails on any setting `quench serve` would refuse. readErr is what reading
// the environment already found wrong.
func configCmd(cfg config.Config, readErr error, env Env, args []string) error {
	if len(args) != 1 || args[0] != "check" {
		return usageErr("config check")
	}
	settings := cfg.Redacted()
	sso := "off"
	oc, on, oidcErr := oidc.ConfigFromEnv(env.Getenv, cfg.BaseURL)
	if on {
		sso = "issuer " + oc.Issuer
	}
	settings["oidc"] = sso
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(env.Stdout, "%-20s %s\n", k, settings[k])
	}
	var problems []string
	for _, err := range []error{readErr, cfg.Validate(), oidcErr} {
		if err == nil {
			continue
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" && !slices.Contains(problems, line) {
				problems = append(problems, line)
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(env.Stderr, "bad setting: %s\n", p)
		}
		return fmt.Errorf("the configuration has %d problem(s)", len(problems))
	}
	fmt.Fprintln(env.Stdout, "configuration ok")
	return nil
}
