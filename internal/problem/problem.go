// Package problem carries errors that are meant to reach a client: each has
// a kind (which becomes the HTTP status in one place), a stable code for
// programs and a message for people. The underlying cause is kept for logs
// and never shown to the client.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Kind classifies a problem; the API maps each kind to one HTTP status.
type Kind int

const (
	Internal Kind = iota
	Invalid
	Unauthenticated
	Forbidden
	NotFound
	Conflict
	TooLarge
	Unsupported
	Unprocessable
	TooManyRequests
	Unavailable
)

// Error is a client-safe error.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Detail holds extra client-safe fields (e.g. the current phase).
	Detail map[string]any
	// Cause is logged, never shown.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// With returns a copy of e carrying one more detail field.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Detail = make(map[string]any, len(e.Detail)+1)
	for k, v := range e.Detail {
		c.Detail[k] = v
	}
	c.Detail[key] = value
	return &c
}

// New returns a problem with a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns a problem whose message is shown and whose cause is logged.
func Wrap(kind Kind, code string, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// As finds a *Error in err's chain.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// Is reports whether err carries a problem with the given code.
func Is(err error, code string) bool {
	p, ok := As(err)
	return ok && p.Code == code
}

// Common problems shared by several layers.
var (
	ErrNotFound = New(NotFound, "not_found", "not found")
)

// Invalidf is shorthand for a 400 with code invalid_request.
func Invalidf(format string, args ...any) *Error {
	return New(Invalid, "invalid_request", format, args...)
}

// Unprocessablef is shorthand for a 422 with code validation_failed.
func Unprocessablef(format string, args ...any) *Error {
	return New(Unprocessable, "validation_failed", format, args...)
}

// HTTPStatus maps a kind to its HTTP status: the one place it happens, for
// the API and the pages alike.
func HTTPStatus(k Kind) int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unsupported:
		return http.StatusUnsupportedMediaType
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case TooManyRequests:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// RetryAfter is the Retry-After header for p in seconds, or "" when trying
// again will not help: a busy, full or unreachable database clears in
// moments (senders such as Alertmanager retry on it), and a throttled
// client waits as long as its retry_after detail says.
func RetryAfter(p *Error) string {
	if p.Kind != Unavailable && p.Kind != TooManyRequests {
		return ""
	}
	if s, ok := p.Detail["retry_after"].(int); ok {
		return strconv.Itoa(s)
	}
	if p.Kind == Unavailable {
		return RetryUnavailable
	}
	return ""
}

// RetryUnavailable is the Retry-After, in seconds, of an answer refused
// for an unavailable database: what a write says, and /readyz too.
const RetryUnavailable = "5"
