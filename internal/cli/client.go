package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/config"
)

// client talks to a Quench server's JSON API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(cfg config.Config) *client {
	return &client{base: strings.TrimRight(cfg.URL, "/"), token: cfg.Token, http: &http.Client{Timeout: 30 * time.Second}}
}

// apiError is an error answer from the server, shown as the server's message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// do sends body as JSON and decodes the answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	if body == nil {
		return c.send(ctx, method, path, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.send(ctx, method, path, "application/json", bytes.NewReader(b), out)
}

// send sends body of contentType and decodes the answer into out (if not
// nil). An error answer's message names the CLI's flags, not the API's
// fields.
func (c *client) send(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach Quench at %s (set QUENCH_URL): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			return &apiError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(data))}
		}
		msg := flagNames(e.Error.Message)
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			msg += " (set QUENCH_TOKEN)"
		}
		return &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: msg}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// apiFields maps the API's field names, as the server's messages name them,
// to the flags that set them.
var apiFields = []struct {
	re   *regexp.Regexp
	flag string
}{
	{regexp.MustCompile(`\bdetection_improvement\b`), "--detection-improvement"},
	{regexp.MustCompile(`\bdetection_source\b`), "--source"},
	{regexp.MustCompile(`\bneeds a note\b`), "needs a --note"},
	{regexp.MustCompile(`\bneeds a reason\b`), "needs a --reason"},
	{regexp.MustCompile(`^(title|summary|url) `), "--$1 "},
}

func flagNames(msg string) string {
	for _, f := range apiFields {
		msg = f.re.ReplaceAllString(msg, f.flag)
	}
	return msg
}
