package server

import (
	"context"
	"net/http"
	"strings"
)

// streamEnder ends long-lived responses when a graceful shutdown begins.
// http.Server.Shutdown waits for every active request, and an /events
// stream never finishes by itself: without this, a shutdown waits out the
// whole drain and then cuts the streams mid-response. Ended instead, each
// stream finishes with a complete response, and browsers reconnect (the
// stream's retry hint) to whichever server is up.
type streamEnder struct {
	ctx  context.Context
	stop context.CancelFunc
}

func newStreamEnder() *streamEnder {
	ctx, stop := context.WithCancel(context.Background())
	return &streamEnder{ctx: ctx, stop: stop}
}

// isStream reports whether r asks for a response that lasts until the
// client leaves: Server-Sent Events.
func isStream(r *http.Request) bool {
	return r.URL.Path == "/events" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// wrap gives streaming requests a context that also ends at shutdown;
// other requests keep theirs, so they run to completion while draining.
func (e *streamEnder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(e.ctx, cancel)()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
