package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps how long a receiver may ask us to wait: the backoff
// cap, so one answer cannot park a message for a day.
const MaxRetryAfter = 5 * time.Minute

// Post sends body to target and classifies the answer the way every HTTP
// channel does: 2xx done; 408, 429 and 5xx retryable (honouring
// Retry-After); 3xx and other 4xx failed at once; network errors
// retryable, except a refused address. Errors name the host only: webhook
// URLs carry secrets in their paths.
func Post(ctx context.Context, c *http.Client, target, contentType string, header http.Header, body []byte) (retryable bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("bad URL for %s", RedactURL(target))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Quench")
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrBlocked) {
			return false, fmt.Errorf("POST %s: %w", RedactURL(target), ErrBlocked)
		}
		return true, fmt.Errorf("POST %s: %s", RedactURL(target), redactErr(err, target))
	}
	defer resp.Body.Close()
	// Read a little of the answer for the delivery log, then drop the
	// rest so the connection can be reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return Classify(resp.StatusCode, resp.Header.Get("Retry-After"), time.Now(), RedactURL(target), snippet)
}

// Classify maps an HTTP answer to the notifier contract.
func Classify(status int, retryAfter string, now time.Time, target string, snippet []byte) (retryable bool, err error) {
	if status >= 200 && status < 300 {
		return false, nil
	}
	err = fmt.Errorf("POST %s: HTTP %d%s", target, status, quote(snippet))
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		if d, ok := ParseRetryAfter(retryAfter, now); ok {
			return true, &RetryAfterError{After: d, Err: err}
		}
		return true, err
	case status >= 300 && status < 400:
		return false, fmt.Errorf("%w (redirects are not followed: configure the final URL)", err)
	}
	return false, err
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date,
// capped at MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0, false
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d <= 0 {
			return 0, false
		}
	} else {
		return 0, false
	}
	return min(d, MaxRetryAfter), true
}

func quote(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return ": " + strconv.Quote(s)
}

// RedactURL keeps the scheme and host of a URL: paths and queries of
// incoming-webhook URLs are the credential.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// redactErr removes the full URL from an error message (net/http quotes
// it in *url.Error).
func redactErr(err error, target string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if target != "" {
		msg = strings.ReplaceAll(msg, target, RedactURL(target))
	}
	return msg
}
