package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/quenchhq/quench/internal/problem"
)

// Body limits: people and scripts send small JSON; alert senders batch.
// An Alertmanager group is one request, so the intake limit fits
// alert.MaxBatch alerts of 1.6 KiB each, more than a rule's labels and
// annotations usually take.
const (
	MaxBody       = 256 << 10
	MaxIntakeBody = 16 << 20
	// maxDepth bounds JSON nesting; no request of ours nests deeper, and a
	// deep payload is an attack on the parser, refused before parsing.
	maxDepth = 64
)

// readBody reads a JSON request body of at most limit bytes, checking the
// content type first so nothing is buffered for a wrong request.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return readBodyInto(w, r, limit, nil)
}

// readBodyInto is readBody into buf when the announced body fits it.
func readBodyInto(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, problem.New(problem.Unsupported, "unsupported_media_type", "send the body as application/json")
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit, buf)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem.New(problem.TooLarge, "too_large", "the body is larger than %d bytes", limit)
		}
		return nil, problem.Wrap(problem.Invalid, "invalid_request", err, "could not read the body")
	}
	if err := checkDepth(body, maxDepth); err != nil {
		return nil, err
	}
	return body, nil
}

// checkDepth refuses JSON nested deeper than max without parsing it. Most
// of a payload is inside strings, which it skips to their closing quote
// with bytes.IndexByte rather than a byte at a time: it ran over every
// byte of every intake request.
func checkDepth(b []byte, max int) error {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, ok := stringEnd(b, i+1)
			if !ok {
				return nil // unterminated: the parser says so
			}
			i = end
		case '{', '[':
			if depth++; depth > max {
				return problem.New(problem.Invalid, "invalid_json", "JSON nested deeper than %d levels at byte %d", max, i)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// stringEnd finds the quote that closes the JSON string starting at from:
// the next quote not escaped by an odd run of backslashes before it.
func stringEnd(b []byte, from int) (int, bool) {
	for {
		q := bytes.IndexByte(b[from:], '"')
		if q < 0 {
			return 0, false
		}
		q += from
		n := 0
		for j := q - 1; j >= from && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q, true
		}
		from = q + 1
	}
}

// readAll is io.ReadAll into a buffer of the announced length: one
// allocation instead of a doubling series of them and their copies.
func readAll(r io.Reader, length, limit int64, buf []byte) ([]byte, error) {
	if length <= 0 || length > limit {
		return io.ReadAll(r)
	}
	// One byte more, so a body longer than announced is still read to
	// its end (or to the limit) without a second buffer in the usual case.
	b := buf[:0]
	if int64(cap(b)) < length+1 {
		b = make([]byte, 0, length+1)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// decodeJSON reads a request body strictly into v: unknown fields, trailing
// data and type mismatches are 400s that say where.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r, MaxBody)
	if err != nil {
		return err
	}
	return unmarshalStrict(body, v)
}

func unmarshalStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem.New(problem.Invalid, "invalid_json", "unexpected data after the JSON value at byte %d", dec.InputOffset())
	}
	return nil
}

func jsonProblem(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem.New(problem.Invalid, "invalid_json", "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return problem.New(problem.Invalid, "invalid_json", "%s must be %s, not %s", field, typ.Type.String(), typ.Value)
	case errors.Is(err, io.EOF):
		return problem.New(problem.Invalid, "invalid_json", "the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(problem.Invalid, "invalid_json", "the JSON ends early at byte %d", len(body))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return problem.New(problem.Invalid, "unknown_field", "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return problem.Wrap(problem.Invalid, "invalid_json", err, "invalid JSON")
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// WriteError answers err as {"error": {"code", "message", …}}. Causes are
// logged, never sent; anything that is not a problem is a 500.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p, ok := problem.As(err)
	switch {
	case ok:
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The client went away or the server is stopping: nobody to blame.
		p = problem.Wrap(problem.Unavailable, "unavailable", err, "the request was cancelled")
	default:
		p = problem.Wrap(problem.Internal, "internal", err, "internal error")
	}
	status := problem.HTTPStatus(p.Kind)
	switch {
	case status >= 500 && p.Kind == problem.Internal && p.Cause != nil:
		log.Error("request failed", "method", r.Method, "path", LogPath(r), "status", status, "err", err)
	case status >= 500 && p.Kind == problem.Internal:
		// No cause: whoever made the problem logged what happened (the
		// panic recovery does, with the stack); one ERROR per failure.
		log.Warn("request failed", "method", r.Method, "path", LogPath(r), "status", status, "err", err)
	case status >= 500:
		log.Warn("request failed", "method", r.Method, "path", LogPath(r), "status", status, "err", err)
	case p.Cause != nil:
		log.Debug("request refused", "method", r.Method, "path", LogPath(r), "status", status, "err", err)
	}
	if s := problem.RetryAfter(p); s != "" {
		w.Header().Set("Retry-After", s)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="quench"`)
	}
	body := map[string]any{}
	for k, v := range p.Detail {
		body[k] = v
	}
	body["code"], body["message"] = p.Code, p.Message
	writeJSON(w, status, map[string]any{"error": body})
}

func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, problem.New(problem.NotFound, "not_found", "%s %q not found", name, r.PathValue(name))
	}
	return n, nil
}

func queryInt(q map[string][]string, name string, def, min, max int) (int, error) {
	v, ok := q[name]
	if !ok || len(v) == 0 || v[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < min || n > max {
		return 0, problem.Invalidf("%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// strictQuery parses the query string, refusing malformed pairs and
// parameters outside known, so a typo does not silently widen a result.
func strictQuery(r *http.Request, known []string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, problem.Invalidf("malformed query string: %v", err)
	}
	for k := range q {
		if !slices.Contains(known, k) {
			return nil, problem.Invalidf("unknown query parameter %q", k)
		}
	}
	return q, nil
}
