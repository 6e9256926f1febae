package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// EventKind names an entry of the timeline.
type EventKind string

// Timeline entries. Every mutation of an incident appends exactly one.
const (
	EventCreated          EventKind = "created"
	EventChanged          EventKind = "changed"
	EventTransitioned     EventKind = "transitioned"
	EventReopened         EventKind = "reopened"
	EventUpdatePosted     EventKind = "update_posted"
	EventUpdateVisibility EventKind = "update_visibility_changed"
	EventChecklistAdded   EventKind = "checklist_added"
	EventChecklistChanged EventKind = "checklist_changed"
	EventChecklistRemoved EventKind = "checklist_removed"
	EventLinkAdded        EventKind = "link_added"
	EventLinkRemoved      EventKind = "link_removed"
	EventAlertAttached    EventKind = "alert_attached"
	EventAlertsResolved   EventKind = "alerts_resolved"
	EventAttachmentAdded  EventKind = "attachment_added"
	// EventReviewed records what a weekly review decided about the
	// incident; it is internal, like the review's minutes.
	EventReviewed EventKind = "reviewed"
	// EventMerged is on the duplicate: it was merged into another
	// incident ("into"). It is internal when that one is confidential.
	EventMerged EventKind = "merged"
	// EventMergedFrom is on the target: a duplicate ("from") was merged
	// into it, with what moved; the duplicate's updates stay on it.
	EventMergedFrom EventKind = "merged_from"
	// EventCancelled records a false alarm, with its reason.
	EventCancelled EventKind = "cancelled"
	// A link or checklist item made public or internal.
	EventLinkVisibility      EventKind = "link_visibility_changed"
	EventChecklistVisibility EventKind = "checklist_visibility_changed"
)

// Event is one append-only timeline entry. Events about an update carry its
// id and never its body: the body is read from the update when the timeline
// is shown, so making an update internal later hides it everywhere at once.
type Event struct {
	ID       int64
	Incident int64
	At       time.Time
	Actor    string
	Kind     EventKind
	UpdateID int64
	// Internal events (about alerts) are for the team only.
	Internal bool
	Data     map[string]any
}

// TimelineEntry is an event with the update it is about, as the update
// reads now: an update made internal after it was posted is hidden from
// its old entries.
type TimelineEntry struct {
	Event
	Update *Update
}

// Sentence describes the event in one line for people; body is the
// update's text for events about an update ("" if none or hidden).
func (e *Event) Sentence(body string) string {
	d := e.Data
	get := func(k string) string {
		if v, ok := d[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	switch e.Kind {
	case EventCreated:
		if get("title") == "" {
			return "opened the incident"
		}
		return fmt.Sprintf("opened %q", get("title"))
	case EventTransitioned:
		s := fmt.Sprintf("moved %s → %s: %s", get("from"), get("to"), get("note"))
		if d["override"] == true {
			s += fmt.Sprintf(" (overriding open items: %s)", get("open_items"))
		}
		if di := get("detection_improvement"); di != "" {
			s += "; detection improvement: " + di
		}
		return s
	case EventReopened:
		return fmt.Sprintf("reopened from %s: %s", get("from"), get("reason"))
	case EventMerged:
		return fmt.Sprintf("merged into #%s: %s", get("into"), get("reason"))
	case EventMergedFrom:
		return fmt.Sprintf("merged #%s into this incident (%s alerts, %s links, %s checklist items, %s attachments moved; its updates stay on #%s): %s",
			get("from"), get("alerts"), get("links"), get("checklist_items"), get("attachments"), get("from"), get("reason"))
	case EventCancelled:
		return fmt.Sprintf("cancelled (was %s): %s", get("from"), get("reason"))
	case EventUpdatePosted:
		s := "posted a " + get("visibility") + " update"
		if get("visibility") == string(Internal) {
			s = "posted an internal update"
		}
		if body != "" {
			s += ": " + firstLine(body)
		}
		return s
	case EventUpdateVisibility:
		return fmt.Sprintf("made an update %s", get("to"))
	case EventChanged:
		if v, ok := d["on_status_page"]; ok && len(d) <= 2 {
			if changedTo(v) == true {
				return "published the incident on the status page"
			}
			if _, both := d["status_title"]; !both {
				return "took the incident off the status page"
			}
		}
		// Owner changes name the people ("owner mitigated: bo → cy");
		// the other fields are named only.
		keys := make([]string, 0, len(d))
		var owners []string
		for k, v := range d {
			if ph, ok := strings.CutPrefix(k, "owner_"); ok {
				from, to := changeEnds(v)
				owners = append(owners, fmt.Sprintf("%s: %s → %s", ph, orNobody(from), orNobody(to)))
				continue
			}
			keys = append(keys, strings.ReplaceAll(k, "_", " "))
		}
		slices.Sort(keys)
		slices.SortFunc(owners, func(a, b string) int { return phaseOrder(a) - phaseOrder(b) })
		var parts []string
		if len(keys) > 0 {
			parts = append(parts, "changed "+strings.Join(keys, ", "))
		}
		if len(owners) > 0 {
			parts = append(parts, "owners "+strings.Join(owners, ", "))
		}
		return strings.Join(parts, "; ")
	case EventChecklistAdded:
		if t := get("template"); t != "" {
			n := count(d["count"])
			noun := "items"
			if n == 1 {
				noun = "item"
			}
			return fmt.Sprintf("added %d checklist %s for %s from the template %q", n, noun, get("phase"), t)
		}
		return fmt.Sprintf("added a checklist item for %s: %s", get("phase"), get("text"))
	case EventChecklistChanged:
		switch d["done"] {
		case true:
			return "ticked: " + get("text")
		case false:
			return "unticked: " + get("text")
		}
		if from, to := changeEnds(d["text"]); from != "" || to != "" {
			return fmt.Sprintf("reworded a checklist item: %s → %s", from, to)
		}
		if _, ok := d["owner"]; ok {
			from, to := changeEnds(d["owner"])
			return fmt.Sprintf("changed the owner of a checklist item (%s → %s): %s", orNobody(from), orNobody(to), get("text"))
		}
		return "changed a checklist item: " + get("text")
	case EventChecklistRemoved:
		return "removed a checklist item: " + get("text")
	case EventLinkAdded:
		return fmt.Sprintf("linked %s %s", strings.ReplaceAll(get("kind"), "_", " "), get("url"))
	case EventLinkRemoved:
		return "removed the link " + get("url")
	case EventAlertAttached:
		// One event per delivery: a storm's thousand alerts are one
		// line, naming the first.
		s := fmt.Sprintf("alert attached: %s (%s)", get("title"), get("status"))
		if d["again"] == true {
			s = fmt.Sprintf("alert fired again: %s", get("title"))
		}
		if n := count(d["count"]); n > 1 {
			s = fmt.Sprintf("%d alerts attached: %s and %d more", n, get("title"), n-1)
		}
		if n := count(d["truncated_alerts"]); n > 0 {
			s += fmt.Sprintf("; the sender left out %d more of the group", n)
		}
		return s
	case EventAlertsResolved:
		return "every attached alert has resolved: mitigated?"
	case EventAttachmentAdded:
		return "attached " + get("filename")
	case EventReviewed:
		return fmt.Sprintf("weekly review #%s decided: %s", get("review"), get("decision"))
	case EventLinkVisibility:
		return fmt.Sprintf("made the link %s %s", get("url"), get("to"))
	case EventChecklistVisibility:
		return fmt.Sprintf("made a checklist item %s: %s", get("to"), get("text"))
	}
	return string(e.Kind)
}

// changeEnds reads a Change's ends, a Change before storage and a JSON
// object after.
func changeEnds(v any) (from, to string) {
	str := func(x any) string {
		if x == nil {
			return ""
		}
		return fmt.Sprint(x)
	}
	switch c := v.(type) {
	case Change:
		return str(c.From), str(c.To)
	case map[string]any:
		return str(c["from"]), str(c["to"])
	}
	return "", ""
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// phaseOrder sorts "phase: …" strings in phase order.
func phaseOrder(s string) int {
	ph, _, _ := strings.Cut(s, ":")
	return slices.Index(Phases, Phase(ph))
}

// count reads a number of event data, an int before storage and a
// float64 after a JSON round trip.
func count(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

// changedTo is the new value of a Change, as recorded (a Change) or as
// read back from the timeline (a JSON object).
func changedTo(v any) any {
	switch c := v.(type) {
	case Change:
		return c.To
	case map[string]any:
		return c["to"]
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		i := 120
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}
