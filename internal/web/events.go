package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/service"
)

// events streams committed changes as server-sent events, so boards and
// incident pages refresh when anyone changes an incident or an alert
// arrives. Viewers only hear of changes to public incidents, and only the
// incident number and kind: pages fetch what changed under their own
// permissions.
func (w *Web) events(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	team := p.Can(auth.ReadAll)
	if p.IsAnonymous() && !w.svc.PublicViewing() {
		w.fail(rw, r, errSignIn)
		return
	}
	rc := http.NewResponseController(rw)
	// The stream outlives the server's write timeout.
	rc.SetWriteDeadline(time.Time{})
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	changes := make(chan service.Change, 64)
	cancel := w.svc.Subscribe(func(c service.Change) {
		if !c.Public && !team {
			return
		}
		select {
		case changes <- c:
		default: // a slow reader misses events, never blocks writers
		}
	})
	defer cancel()
	fmt.Fprint(rw, "retry: 3000\n\n")
	rc.Flush()
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			fmt.Fprint(rw, ": ping\n\n")
		case c := <-changes:
			b, _ := json.Marshal(map[string]any{"incident": c.Incident, "kind": c.Kind})
			fmt.Fprintf(rw, "event: change\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
