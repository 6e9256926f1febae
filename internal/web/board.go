package web

import (
	"net/http"
	"slices"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/service"
)

type column struct {
	Phase incident.Phase
	Next  incident.Phase
	Cards []*service.Card
}

type boardData struct {
	Columns  []column
	Filter   boardFilter
	Services []string
	Members  []service.Member
	Team     bool
	// Inbox counts the firing alerts waiting in the inbox (team only).
	Inbox int64
	// Setup is the first-run checklist, shown to the team until every
	// step has happened; nil then.
	Setup *service.Setup
	Admin bool
}

type boardFilter struct {
	Service, Severity, Owner, Label string
}

func (f boardFilter) Any() bool {
	return f.Service != "" || f.Severity != "" || f.Owner != "" || f.Label != ""
}

// board is the home page: every incident by phase, the team's shared view
// of what needs doing.
func (w *Web) board(rw http.ResponseWriter, r *http.Request) {
	p := auth.From(r.Context())
	q := r.URL.Query()
	bf := boardFilter{Service: q.Get("service"), Severity: q.Get("severity"), Owner: q.Get("owner"), Label: q.Get("label")}
	f, err := service.ParseIncidentQuery(q)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	b, err := w.svc.Board(r.Context(), p, f)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	d := boardData{Filter: bf, Team: p.Can(auth.ReadAll)}
	seen := map[string]bool{}
	for _, ph := range incident.Phases {
		next, _ := ph.Next()
		d.Columns = append(d.Columns, column{Phase: ph, Next: next, Cards: b.Columns[ph]})
		for _, c := range b.Columns[ph] {
			for _, s := range c.Services {
				if !seen[s] {
					seen[s] = true
					d.Services = append(d.Services, s)
				}
			}
		}
	}
	slices.Sort(d.Services)
	if d.Team {
		if d.Members, err = w.svc.Members(r.Context(), p); err != nil {
			w.fail(rw, r, err)
			return
		}
		if d.Inbox, err = w.svc.InboxWaiting(r.Context(), p); err != nil {
			w.fail(rw, r, err)
			return
		}
		st, err := w.svc.SetupState(r.Context(), p)
		if err != nil {
			w.fail(rw, r, err)
			return
		}
		if !st.Done() {
			d.Setup = &st
		}
		d.Admin = p.Can(auth.Administer)
	}
	w.render(rw, r, http.StatusOK, "board", w.newPage(r, "Board", d))
}
