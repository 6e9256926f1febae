package service

import (
	"context"

	"github.com/quenchhq/quench/internal/auth"
	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/problem"
	"github.com/quenchhq/quench/internal/store"
)

// What viewers (anonymous visitors, where the instance allows them) may
// learn of a public incident: its fields, its public updates, links and
// checklist items, and a timeline of public facts. Links and checklist
// items are internal unless a responder says public, like updates, and the
// events about internal ones are internal events: never in a viewer's
// timeline, never announced on a viewer's live stream.

// markVisibility records on ev that it is about content of visibility vis:
// an event about internal content is internal.
func markVisibility(ev *incident.Event, vis incident.Visibility) {
	ev.Data["visibility"] = vis
	ev.Internal = vis != incident.Public
}

// viewersSee reports whether an event on a public incident is news for
// viewers. A change of visibility is, either way: what they may see
// changed, and their page drops what became internal.
func viewersSee(ev *incident.Event) bool {
	switch ev.Kind {
	case incident.EventUpdateVisibility, incident.EventLinkVisibility, incident.EventChecklistVisibility:
		return true
	}
	if v, ok := ev.Data["visibility"]; ok && v != incident.Public {
		return false
	}
	return !ev.Internal
}

// changeVisibility makes *field vis, recording a visibility event of kind
// on ev; the same visibility again is a conflict.
func changeVisibility(ev *incident.Event, kind incident.EventKind, field *incident.Visibility, vis incident.Visibility, what string, id int64) error {
	if vis != incident.Internal && vis != incident.Public {
		return problem.Unprocessablef("visibility must be internal or public")
	}
	if *field == vis {
		return problem.New(problem.Conflict, "unchanged", "%s %d is already %s", what, id, vis)
	}
	ev.Kind = kind
	ev.Data["from"], ev.Data["to"] = *field, vis
	// Made internal, the event names something viewers no longer see.
	ev.Internal = vis != incident.Public
	*field = vis
	return nil
}

// onlyPublic keeps the public things of list when publicOnly is set.
func onlyPublic[T any](list []*T, publicOnly bool, vis func(*T) incident.Visibility) []*T {
	if !publicOnly {
		return list
	}
	out := list[:0:0]
	for _, v := range list {
		if vis(v) == incident.Public {
			out = append(out, v)
		}
	}
	return out
}

// SetLinkVisibility makes a link public or internal.
func (s *Service) SetLinkVisibility(ctx context.Context, p auth.Principal, number, id int64, vis incident.Visibility) (*incident.Link, error) {
	var l *incident.Link
	_, err := s.mutate(ctx, p, number, "change links", func(tx *store.Tx, inc *incident.Incident, ev *incident.Event) (err error) {
		if l, err = tx.Link(ctx, number, id); err != nil {
			return missing(err, "link %d not found on incident #%d", id, number)
		}
		if err := changeVisibility(ev, incident.EventLinkVisibility, &l.Visibility, vis, "link", id); err != nil {
			return err
		}
		ev.Data["link"], ev.Data["url"] = l.ID, l.URL
		return tx.SetLinkVisibility(ctx, id, vis)
	})
	return l, err
}

// publicTimeline is the timeline a viewer reads: public facts only. It
// leaves out everything that happened while the incident was confidential
// (the incident was not public then, so nothing about that time is), never
// shows the earlier value of a field (an old title, an edited summary), and
// names links and checklist items only while they are public, as they
// read now. entries come from the store without internal events and
// without events about updates that are not public; items and links are
// the incident's current ones.
func publicTimeline(entries []*incident.TimelineEntry, items []*incident.ChecklistItem, links []*incident.Link) []*incident.TimelineEntry {
	publicItems := map[int64]*incident.ChecklistItem{}
	for _, it := range items {
		if it.Visibility == incident.Public {
			publicItems[it.ID] = it
		}
	}
	publicLinks := map[int64]*incident.Link{}
	for _, l := range links {
		if l.Visibility == incident.Public {
			publicLinks[l.ID] = l
		}
	}
	var out []*incident.TimelineEntry
	confidential := false
	for _, e := range entries {
		was := confidential
		switch e.Kind {
		case incident.EventCreated:
			confidential = dataString(&e.Event, "visibility") == string(incident.Confidential)
		case incident.EventChanged:
			if c, ok := e.Data["visibility"]; ok {
				confidential = changeTo(c) == string(incident.Confidential)
			}
		}
		if was || confidential {
			continue
		}
		data, ok := publicData(e, publicItems, publicLinks)
		if !ok {
			continue
		}
		c := *e
		c.Data = data
		out = append(out, &c)
	}
	return out
}

// publicData is what a viewer may read of an event's data; false leaves
// the event out.
func publicData(e *incident.TimelineEntry, items map[int64]*incident.ChecklistItem, links map[int64]*incident.Link) (map[string]any, bool) {
	d := e.Data
	keep := func(keys ...string) map[string]any {
		out := map[string]any{}
		for _, k := range keys {
			if v, ok := d[k]; ok {
				out[k] = v
			}
		}
		return out
	}
	switch e.Kind {
	case incident.EventCreated:
		// The title it was opened with may have changed since.
		return map[string]any{}, true
	case incident.EventChanged:
		// Which fields changed, never what they were.
		out := map[string]any{}
		for k := range d {
			out[k] = nil
		}
		if c, ok := d["on_status_page"]; ok {
			out["on_status_page"] = incident.Change{To: changeTo(c) == "true"}
		}
		return out, true
	case incident.EventTransitioned:
		// Open checklist items overridden may be internal ones.
		return keep("from", "to", "note", "override", "detection_improvement"), true
	case incident.EventChecklistAdded, incident.EventChecklistChanged, incident.EventChecklistRemoved, incident.EventChecklistVisibility:
		it, ok := items[dataInt(d, "item")]
		if !ok {
			return nil, false
		}
		out := keep("done", "to")
		out["item"], out["text"], out["phase"] = it.ID, it.Text, it.Phase
		return out, true
	case incident.EventLinkAdded, incident.EventLinkRemoved, incident.EventLinkVisibility:
		l, ok := links[dataInt(d, "link")]
		if !ok {
			return nil, false
		}
		out := keep("to")
		out["link"], out["kind"], out["url"], out["title"] = l.ID, l.Kind, l.URL, l.Title
		return out, true
	}
	return d, true
}

// changeTo is the new value of a recorded change, as text.
func changeTo(v any) string {
	switch c := v.(type) {
	case incident.Change:
		return stringOf(c.To)
	case map[string]any:
		return stringOf(c["to"])
	}
	return ""
}

func stringOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case incident.Visibility:
		return string(x)
	}
	return ""
}

// dataInt reads a numeric field of an event's data, as recorded (int64) or
// read back (float64).
func dataInt(d map[string]any, key string) int64 {
	switch v := d[key].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case int:
		return int64(v)
	}
	return 0
}
