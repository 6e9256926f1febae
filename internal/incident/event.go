package incident

import "time"

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
