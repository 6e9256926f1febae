// Package crash reports Quench's own failures to Sentry when SENTRY_DSN is
// set: panics in request handlers and the causes of 500 answers, both of
// which are logged at level ERROR, become Sentry events with a stack trace.
//
// It hooks into logging rather than into each handler: every place that
// fails a request already logs the cause once at ERROR (the API's and the
// pages' error functions, the panic recovery), so a slog handler sees all
// of them without another call site to forget.
//
// Reports leave nothing a log reader could not see, and less: no request
// headers, cookies or bodies are attached at all, only allowlisted log
// fields are kept, and every text is scrubbed of tokens, passwords,
// credentials in URLs and quoted text (where incident titles, updates and
// notes would appear in an error message).
package crash

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// Options configure the reporter.
type Options struct {
	// DSN is Sentry's project address (SENTRY_DSN); empty turns
	// reporting off.
	DSN string
	// Environment tags events (production, staging).
	Environment string
	// Release names the Quench version that failed.
	Release string
}

// Reporter sends events to Sentry. The zero Reporter (no DSN) reports
// nothing.
type Reporter struct {
	client *sentry.Client
}

// New connects nothing yet: events are sent in the background as they
// happen. It fails only on a malformed DSN.
func New(o Options) (*Reporter, error) {
	if o.DSN == "" {
		return &Reporter{}, nil
	}
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         o.DSN,
		Release:     o.Release,
		Environment: o.Environment,
		// Never the client's address, headers, cookies or user.
		SendDefaultPII: false,
		BeforeSend:     scrubEvent,
		// The plain HTTP transport: a bounded queue sent in order, and a
		// Flush that waits for all of it (the newer telemetry buffer
		// prioritises and may hold events back).
		DisableTelemetryBuffer: true,
		// No source lines next to the stack frames: only what the
		// event itself says leaves the process.
		Integrations: func(in []sentry.Integration) []sentry.Integration {
			var out []sentry.Integration
			for _, i := range in {
				if i.Name() != "ContextifyFrames" {
					out = append(out, i)
				}
			}
			return out
		},
	})
	if err != nil {
		return nil, fmt.Errorf("SENTRY_DSN: %w", err)
	}
	return &Reporter{client: c}, nil
}

// Enabled reports whether events go anywhere.
func (r *Reporter) Enabled() bool { return r != nil && r.client != nil }

// Flush waits up to timeout for queued events to be sent: at shutdown, so
// the error that led to it is not lost.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if !r.Enabled() {
		return true
	}
	return r.client.Flush(timeout)
}

// Handler wraps next: every record goes on to next as before, and records
// at ERROR also become Sentry events.
func (r *Reporter) Handler(next slog.Handler) slog.Handler {
	if !r.Enabled() {
		return next
	}
	return &handler{next: next, r: r}
}

type handler struct {
	next   slog.Handler
	r      *Reporter
	attrs  []slog.Attr // from WithAttrs, keys already prefixed by groups
	prefix string      // from WithGroup
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		h.r.capture(rec, h.attrs, h.prefix)
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), prefixed(h.prefix, as)...)
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.prefix = h.prefix + name + "."
	c.next = h.next.WithGroup(name)
	return &c
}

func prefixed(prefix string, as []slog.Attr) []slog.Attr {
	if prefix == "" {
		return as
	}
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}

// tagged fields become Sentry tags (searchable); kept fields go into the
// event's "quench" context. Any other field is left out: it may hold content.
var (
	tagged = map[string]bool{"method": true, "route": true, "status": true, "template": true}
	kept   = map[string]bool{"path": true, "sent": true}
)

// capture turns one ERROR record into an event. It runs inside the
// logging call, so the stack it records is the failing code's: for a
// panic, the recovery's deferred call still has the panicking frames
// below it.
func (r *Reporter) capture(rec slog.Record, attrs []slog.Attr, prefix string) {
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelError
	ev.Logger = "quench"
	ev.Message = rec.Message
	fields := sentry.Context{}
	var cause error
	var panicked any
	isPanic := false
	take := func(a slog.Attr) {
		a.Value = a.Value.Resolve()
		switch {
		case a.Key == "err":
			if e, ok := a.Value.Any().(error); ok {
				cause = e
			} else {
				cause = fmt.Errorf("%v", a.Value.Any())
			}
		case a.Key == "panic":
			isPanic, panicked = true, a.Value.Any()
		case tagged[a.Key]:
			ev.Tags[a.Key] = a.Value.String()
		case kept[a.Key]:
			fields[a.Key] = a.Value.String()
		}
	}
	for _, a := range attrs {
		take(a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		a.Key = prefix + a.Key
		take(a)
		return true
	})
	if len(fields) > 0 {
		ev.Contexts["quench"] = fields
	}
	stack := ownStack(sentry.NewStacktrace())
	switch {
	case isPanic:
		ev.Level = sentry.LevelFatal
		handled := false
		ev.Exception = []sentry.Exception{{Type: "panic", Value: fmt.Sprint(panicked), Stacktrace: stack,
			Mechanism: &sentry.Mechanism{Type: "recover", Handled: &handled}}}
	case cause != nil:
		ev.SetException(cause, 10)
		ev.Exception[len(ev.Exception)-1].Stacktrace = stack
	default:
		ev.Exception = []sentry.Exception{{Type: rec.Message, Value: rec.Message, Stacktrace: stack}}
	}
	r.client.CaptureEvent(ev, nil, nil)
}

// ownStack drops the frames of logging and of this package from the top
// of the stack: the report starts where Quench failed.
func ownStack(st *sentry.Stacktrace) *sentry.Stacktrace {
	if st == nil {
		return nil
	}
	frames := st.Frames[:0]
	for _, f := range st.Frames {
		if f.Module == "log/slog" || strings.HasPrefix(f.Module, "github.com/quenchhq/quench/internal/crash") {
			continue
		}
		frames = append(frames, f)
	}
	st.Frames = frames
	return st
}

// scrubEvent is the last look at every event before it leaves: whatever
// put it together, no request, user or breadcrumb goes, and every text is
// scrubbed.
func scrubEvent(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	ev.Request = nil
	ev.User = sentry.User{}
	ev.Breadcrumbs = nil
	ev.Message = Scrub(ev.Message)
	for i := range ev.Exception {
		ev.Exception[i].Value = Scrub(ev.Exception[i].Value)
		if st := ev.Exception[i].Stacktrace; st != nil {
			for j := range st.Frames {
				st.Frames[j].Vars = nil
				st.Frames[j].ContextLine, st.Frames[j].PreContext, st.Frames[j].PostContext = "", nil, nil
			}
		}
	}
	for k, v := range ev.Tags {
		ev.Tags[k] = Scrub(v)
	}
	if fields, ok := ev.Contexts["quench"]; ok {
		for k, v := range fields {
			fields[k] = Scrub(fmt.Sprint(v))
		}
	}
	return ev
}

const redacted = "[redacted]"

var scrubbers = []struct {
	re   *regexp.Regexp
	with string
}{
	// Authorization headers and bearer tokens.
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"',;]+`), "$1 " + redacted},
	// name=value and name: value pairs whose name says secret.
	{regexp.MustCompile(`(?i)\b([\w-]*(?:password|passwd|pwd|secret|token|cookie|session|authorization|api[_-]?key|csrf|dsn)[\w-]*)(\s*[=:]\s*)[^\s&;,]+`), "$1$2" + redacted},
	// Credentials in URLs.
	{regexp.MustCompile(`(://)[^/\s:@]+(:[^/\s@]*)?@`), "${1}" + redacted + "@"},
	// Quench's secrets by their prefixes (tokens, sessions, webhook
	// signing secrets), wherever they stand.
	{regexp.MustCompile(`\b(qnch|qs|whsec)_[A-Za-z0-9_+/=-]{8,}`), redacted},
	// Quoted text: where an error names an incident's title, an update,
	// a note or any other content, it quotes it.
	{regexp.MustCompile(`"(?:[^"\\]|\\.)*"`), `"` + redacted + `"`},
	{regexp.MustCompile(`'[^']*'`), `'` + redacted + `'`},
	{regexp.MustCompile("`[^`]*`"), "`" + redacted + "`"},
	// Long random-looking path segments and words: ids that work as
	// secrets (check-in URLs, reset links).
	{regexp.MustCompile(`\b[A-Za-z0-9_-]{32,}\b`), redacted},
}

// maxText bounds any text in an event.
const maxText = 2000

// Scrub removes secrets and content from a text bound for Sentry.
func Scrub(s string) string {
	for _, sc := range scrubbers {
		s = sc.re.ReplaceAllString(s, sc.with)
	}
	if len(s) > maxText {
		s = s[:maxText] + "…"
	}
	return s
}
