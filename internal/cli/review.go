package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/quenchhq/quench/internal/config"
)

// reviewCmd prints the weekly review's agenda as Markdown (or the
// server's JSON with --json).
func reviewCmd(fs *pflag.FlagSet) runner {
	since := fs.String("since", "", "start: a date (2026-11-17) or RFC 3339 time; default: where the last review ended")
	until := fs.String("until", "", "end: a date (included) or RFC 3339 time; default: now")
	asJSON := fs.Bool("json", false, "print the server's JSON")
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args
		if len(pos) > 0 {
			return usageErr("review takes no arguments, only --since, --until and --json")
		}
		v := url.Values{"format": {"md"}}
		if *asJSON {
			v.Set("format", "json")
		}
		for k, x := range map[string]string{"since": *since, "until": *until} {
			if x != "" {
				v.Set(k, x)
			}
		}
		return newClient(cfg).stream(ctx, "/api/v1/review?"+v.Encode(), env.Stdout)
	}
}

// logCmd streams the incident log's export to standard output.
func logCmd(fs *pflag.FlagSet) runner {
	v := url.Values{}
	flags := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"format", "md, csv or json"}, {"phase", "phases, comma-separated"}, {"service", "service"}, {"severity", "severity"},
		{"source", "detection source"}, {"from", "opened from: a date or RFC 3339 time"}, {"to", "opened up to: a date (included) or time"},
		{"owner", "owner of the current phase"}, {"q", "search text"},
	} {
		flags[f.name] = fs.String(f.name, "", f.usage)
	}
	return func(ctx context.Context, cfg config.Config, env Env, args []string) error {
		pos := args
		if len(pos) > 0 {
			return usageErr("log takes no arguments, only flags")
		}
		for k, p := range flags {
			if *p != "" {
				v.Set(k, *p)
			}
		}
		if v.Get("format") == "" {
			v.Set("format", "md")
		}
		return newClient(cfg).stream(ctx, "/api/v1/log?"+v.Encode(), env.Stdout)
	}
}

// stream copies a GET answer to w as it arrives, for answers too long to
// hold (the whole incident log). An answer that breaks off is an error,
// never a short file that looks complete.
func (c *client) stream(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := *c.http
	hc.Timeout = 0 // a long export may take longer than one request should; ctx still ends it
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach Quench at %s (set QUENCH_URL): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			return &apiError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(data))}
		}
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("the answer broke off: %w", err)
	}
	return nil
}
