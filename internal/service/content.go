package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
	"github.com/quenchhq/quench/internal/text"
)

// mutate runs fn on incident number inside a write transaction, then
// appends ev (filled by fn) and bumps the incident's updated_at: the
// common shape of every change to an incident's content.
func (s *Service) mutate(ctx context.Context, p auth.Principal, number int64, what string,
	fn func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error) (*incident.Incident, error) {
	if err := require(p, auth.WriteIncidents, what); err != nil {
		return nil, err
	}
	var inc *incident.Incident
	var ev incident.Event
	err := s.store.Write(ctx, func(tx *store.Tx) (err error) {
		if inc, err = visibleIncident(ctx, tx, number, false, true); err != nil {
			return err
		}
		now := s.Now()
		ev = incident.Event{Incident: number, At: now, Actor: p.Name(), Data: map[string]any{}}
		if err := fn(tx, inc, &ev); err != nil {
			return err
		}
		inc.UpdatedAt = now
		if err := tx.SaveIncident(ctx, inc, inc.Phase, false); err != nil {
			return err
		}
		return s.record(ctx, tx, inc, &ev)
	})
	if err != nil {
		return nil, err
	}
	s.publish(Change{Incident: number, Kind: ev.Kind, Public: !inc.Confidential() && viewersSee(&ev)})
	return inc, nil
}

// PostUpdate adds a Markdown update; internal unless said otherwise.
func (s *Service) PostUpdate(ctx context.Context, p auth.Principal, number int64, body string, vis incident.Visibility) (*incident.Update, error) {
	vis, err := incident.CheckUpdateVisibility(vis)
	if err != nil {
		return nil, err
	}
	body = text.Clean(strings.TrimSpace(body), 0)
	if body == "" {
		return nil, problem.Unprocessablef("body is required")
	}
	if len(body) > incident.MaxUpdateBytes {
		return nil, problem.Unprocessablef("body is longer than %d bytes", incident.MaxUpdateBytes)
	}
	var u *incident.Update
	_, err = s.mutate(ctx, p, number, "post updates", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		u = &incident.Update{Incident: number, Author: p.Name(), Body: body, Visibility: vis, CreatedAt: ev.At, UpdatedAt: ev.At}
		if err := tx.InsertUpdate(ctx, u); err != nil {
			return err
		}
		ev.Kind, ev.UpdateID = incident.EventUpdatePosted, u.ID
		ev.Data["visibility"] = vis
		return nil
	})
	return u, err
}

// SetUpdateVisibility publishes an internal update or withdraws a public one.
func (s *Service) SetUpdateVisibility(ctx context.Context, p auth.Principal, number, id int64, vis incident.Visibility) (*incident.Update, error) {
	if vis != incident.Internal && vis != incident.Public {
		return nil, problem.Unprocessablef("visibility must be internal or public")
	}
	var u *incident.Update
	_, err := s.mutate(ctx, p, number, "change updates", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) (err error) {
		if u, err = tx.Update(ctx, number, id); err != nil {
			return missing(err, "update %d not found on incident #%d", id, number)
		}
		if u.Visibility == vis {
			return problem.New(problem.Conflict, "unchanged", "update %d is already %s", id, vis)
		}
		ev.Kind, ev.UpdateID = incident.EventUpdateVisibility, u.ID
		ev.Data["from"], ev.Data["to"] = u.Visibility, vis
		u.Visibility, u.UpdatedAt = vis, ev.At
		return tx.SetUpdateVisibility(ctx, u)
	})
	return u, err
}

// Updates lists the updates p may see.
func (s *Service) Updates(ctx context.Context, p auth.Principal, number int64) ([]*incident.Update, error) {
	return readChild(s, ctx, p, number, func(tx *store.Tx, publicOnly bool) ([]*incident.Update, error) {
		return tx.Updates(ctx, number, publicOnly)
	})
}

// NewChecklistItem is what a responder supplies for an item.
type NewChecklistItem struct {
	Text  string
	Phase incident.Phase // default: the incident's current phase
	Owner string
	// Visibility is internal unless it says public.
	Visibility incident.Visibility
}

// AddChecklistItem adds an acceptance criterion to a phase. Items belong to
// the phase that must not be left before they are done, so closed has none.
func (s *Service) AddChecklistItem(ctx context.Context, p auth.Principal, number int64, n NewChecklistItem) (*incident.ChecklistItem, error) {
	n.Text = text.Line(n.Text, incident.MaxItemBytes+1)
	if n.Text == "" {
		return nil, problem.Unprocessablef("text is required")
	}
	if len(n.Text) > incident.MaxItemBytes {
		return nil, problem.Unprocessablef("text is longer than %d bytes", incident.MaxItemBytes)
	}
	if n.Phase != "" && !slices.Contains(incident.OwnedPhases, n.Phase) {
		return nil, problem.Unprocessablef("checklist items belong to active, mitigated or resolved, not %q", n.Phase)
	}
	vis, err := incident.CheckUpdateVisibility(n.Visibility)
	if err != nil {
		return nil, err
	}
	var it *incident.ChecklistItem
	_, err = s.mutate(ctx, p, number, "change checklists", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		if err := notMerged(inc, "checklist items"); err != nil {
			return err
		}
		ph := n.Phase
		if ph == "" {
			if ph = inc.Phase; ph == incident.Closed {
				return problem.Unprocessablef("incident #%d is closed: say which phase the item belongs to", number)
			}
		}
		it = &incident.ChecklistItem{Incident: number, Text: n.Text, Phase: ph, Owner: n.Owner, CreatedBy: p.Name(), CreatedAt: ev.At, Visibility: vis}
		if err := tx.InsertChecklistItem(ctx, it); err != nil {
			return err
		}
		ev.Kind = incident.EventChecklistAdded
		markVisibility(ev, vis)
		ev.Data["item"], ev.Data["text"], ev.Data["phase"] = it.ID, it.Text, it.Phase
		if it.Owner != "" {
			ev.Data["owner"] = it.Owner
		}
		return nil
	})
	return it, err
}

// ChecklistPatch changes an item; nil fields stay. A new visibility is a
// change of its own, not combined with others.
type ChecklistPatch struct {
	Done       *bool
	Owner      *string
	Text       *string
	Visibility *incident.Visibility
}

// ChangeChecklistItem ticks, unticks, reassigns or rewords an item.
func (s *Service) ChangeChecklistItem(ctx context.Context, p auth.Principal, number, id int64, c ChecklistPatch) (*incident.ChecklistItem, error) {
	var it *incident.ChecklistItem
	_, err := s.mutate(ctx, p, number, "change checklists", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) (err error) {
		if it, err = tx.ChecklistItem(ctx, number, id); err != nil {
			return missing(err, "checklist item %d not found on incident #%d", id, number)
		}
		if c.Visibility != nil {
			if c.Done != nil || c.Owner != nil || c.Text != nil {
				return problem.Unprocessablef("change a checklist item's visibility on its own")
			}
			if err := changeVisibility(ev, incident.EventChecklistVisibility, &it.Visibility, *c.Visibility, "checklist item", id); err != nil {
				return err
			}
			ev.Data["item"], ev.Data["text"] = it.ID, it.Text
			return tx.SaveChecklistItem(ctx, it)
		}
		ev.Kind = incident.EventChecklistChanged
		ev.Data["item"], ev.Data["text"] = it.ID, it.Text
		markVisibility(ev, it.Visibility)
		changed := false
		if c.Done != nil && *c.Done != it.Done {
			it.Done, changed = *c.Done, true
			ev.Data["done"] = it.Done
			if it.Done {
				it.DoneBy, it.DoneAt = p.Name(), ev.At
			} else {
				it.DoneBy, it.DoneAt = "", time.Time{}
			}
		}
		if c.Owner != nil && *c.Owner != it.Owner {
			ev.Data["owner"] = incident.Change{From: it.Owner, To: *c.Owner}
			it.Owner, changed = *c.Owner, true
		}
		if c.Text != nil {
			t := text.Line(*c.Text, incident.MaxItemBytes)
			if t == "" {
				return problem.Unprocessablef("text cannot be empty")
			}
			if t != it.Text {
				ev.Data["text"] = incident.Change{From: it.Text, To: t}
				it.Text, changed = t, true
			}
		}
		if !changed {
			return problem.New(problem.Conflict, "unchanged", "checklist item %d already looks like that", id)
		}
		return tx.SaveChecklistItem(ctx, it)
	})
	return it, err
}

// RemoveChecklistItem deletes an item; the timeline keeps its text.
func (s *Service) RemoveChecklistItem(ctx context.Context, p auth.Principal, number, id int64) error {
	_, err := s.mutate(ctx, p, number, "change checklists", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		it, err := tx.ChecklistItem(ctx, number, id)
		if err != nil {
			return missing(err, "checklist item %d not found on incident #%d", id, number)
		}
		ev.Kind = incident.EventChecklistRemoved
		ev.Data["item"], ev.Data["text"], ev.Data["phase"] = it.ID, it.Text, it.Phase
		markVisibility(ev, it.Visibility)
		return tx.DeleteChecklistItem(ctx, id)
	})
	return err
}

// Checklist lists an incident's items.
func (s *Service) Checklist(ctx context.Context, p auth.Principal, number int64) ([]*incident.ChecklistItem, error) {
	return readChild(s, ctx, p, number, func(tx *store.Tx, publicOnly bool) ([]*incident.ChecklistItem, error) {
		items, err := tx.Checklist(ctx, number)
		return onlyPublic(items, publicOnly, func(it *incident.ChecklistItem) incident.Visibility { return it.Visibility }), err
	})
}

// Links lists an incident's links.
func (s *Service) Links(ctx context.Context, p auth.Principal, number int64) ([]*incident.Link, error) {
	return readChild(s, ctx, p, number, func(tx *store.Tx, publicOnly bool) ([]*incident.Link, error) {
		links, err := tx.Links(ctx, number)
		return onlyPublic(links, publicOnly, func(l *incident.Link) incident.Visibility { return l.Visibility }), err
	})
}

// readChild reads something of an incident p may see, in one snapshot;
// list gets whether p is a viewer (public content only).
func readChild[T any](s *Service, ctx context.Context, p auth.Principal, number int64,
	list func(tx *store.Tx, publicOnly bool) ([]*T, error)) ([]*T, error) {
	publicOnly, err := s.audience(p)
	if err != nil {
		return nil, err
	}
	var out []*T
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		if err := mayRead(ctx, tx, number, publicOnly); err != nil {
			return err
		}
		out, err = list(tx, publicOnly)
		return err
	})
	return out, err
}

// NewLink is what a responder supplies for a link.
type NewLink struct {
	Kind  incident.LinkKind
	URL   string
	Title string
	// Visibility is internal unless it says public.
	Visibility incident.Visibility
}

// AddLink adds a typed link (merge request, dashboard, runbook, …).
func (s *Service) AddLink(ctx context.Context, p auth.Principal, number int64, n NewLink) (*incident.Link, error) {
	kind, err := incident.CheckLinkKind(n.Kind)
	if err != nil {
		return nil, err
	}
	u, err := incident.CheckURL(n.URL)
	if err != nil {
		return nil, err
	}
	vis, err := incident.CheckUpdateVisibility(n.Visibility)
	if err != nil {
		return nil, err
	}
	l := &incident.Link{Incident: number, Kind: kind, URL: u, Title: text.Line(n.Title, incident.MaxLinkTitle), CreatedBy: p.Name(), Visibility: vis}
	_, err = s.mutate(ctx, p, number, "change links", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		if err := notMerged(inc, "links"); err != nil {
			return err
		}
		l.CreatedAt = ev.At
		if err := tx.InsertLink(ctx, l); err != nil {
			return err
		}
		ev.Kind = incident.EventLinkAdded
		ev.Data["link"], ev.Data["kind"], ev.Data["url"], ev.Data["title"] = l.ID, l.Kind, l.URL, l.Title
		markVisibility(ev, l.Visibility)
		return nil
	})
	return l, err
}

// RemoveLink deletes a link; the timeline keeps it.
func (s *Service) RemoveLink(ctx context.Context, p auth.Principal, number, id int64) error {
	_, err := s.mutate(ctx, p, number, "change links", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
		l, err := tx.Link(ctx, number, id)
		if err != nil {
			return missing(err, "link %d not found on incident #%d", id, number)
		}
		ev.Kind = incident.EventLinkRemoved
		ev.Data["link"], ev.Data["kind"], ev.Data["url"] = l.ID, l.Kind, l.URL
		markVisibility(ev, l.Visibility)
		return tx.DeleteLink(ctx, id)
	})
	return err
}
