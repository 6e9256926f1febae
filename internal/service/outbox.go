package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/store"
)

// record appends ev to the incident's timeline and puts the notifications
// it causes into the outbox, in the same transaction: the change and its
// messages commit together or not at all. inc is the incident after the
// change.
func (s *Service) record(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
	if err := tx.AppendEvent(ctx, ev); err != nil {
		return err
	}
	if err := s.plan(ctx, tx, inc, ev); err != nil {
		return err
	}
	return s.planCustomers(ctx, tx, inc, ev)
}

// planned is one message an event causes, before it is addressed.
type planned struct {
	event    notify.Event
	body     string
	from, to string
	updateID int64
	// public is false when the message says something only the team may
	// know beyond what its event type already implies (an internal
	// checklist item).
	public bool
}

// plan turns a timeline event into outbox rows for every channel that
// wants it and every person it concerns. inc may be nil (alert events):
// it is read only when someone wants the event.
func (s *Service) plan(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
	msgs, err := s.messagesFor(ctx, tx, ev)
	if err != nil {
		return err
	}
	if len(msgs) > 0 {
		if err := s.fanOut(ctx, tx, inc, ev, msgs); err != nil {
			return err
		}
	}
	if !s.emailEnabled || !mayConcernSomeone(ev.Kind) {
		return nil
	}
	if inc == nil {
		if inc, err = tx.Incident(ctx, ev.Incident); err != nil {
			return err
		}
	}
	personal, err := s.personal(ctx, tx, inc, ev)
	if err != nil {
		return err
	}
	for _, d := range personal {
		if _, err := tx.EnqueueDelivery(ctx, d, 0); err != nil {
			return err
		}
	}
	return nil
}

// fanOut queues msgs for every channel that wants them.
func (s *Service) fanOut(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event, msgs []planned) error {
	channels, err := tx.Channels(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		for _, c := range channels {
			if !c.Wants(m.event) {
				continue
			}
			if inc == nil {
				if inc, err = tx.Incident(ctx, ev.Incident); err != nil {
					return err
				}
			}
			if !c.Filter.Matches(string(inc.Severity), inc.Services, inc.Labels) {
				continue
			}
			if c.Audience == notify.Public && (inc.Confidential() || !m.public) {
				continue
			}
			if m.event == notify.AlertAttached {
				// An alert storm attaches hundreds of alerts: a receiver
				// that has not yet been told of the last one is not told
				// of each of the others.
				if waiting, err := tx.LaneWaiting(ctx, c.ID, 0, inc.Number, notify.AlertAttached); err != nil {
					return err
				} else if waiting {
					continue
				}
			}
			if m.event == notify.Opened && m.body == "" {
				m.body = inc.Summary
			}
			d := s.delivery(inc, ev, m)
			d.ChannelID, d.Channel = c.ID, c.Name
			if _, err := tx.EnqueueDelivery(ctx, d, m.updateID); err != nil {
				return err
			}
		}
	}
	return nil
}

// mayConcernSomeone lists the events that can make a personal e-mail.
func mayConcernSomeone(k incident.EventKind) bool {
	switch k {
	case incident.EventCreated, incident.EventChanged, incident.EventTransitioned, incident.EventReopened,
		incident.EventChecklistAdded, incident.EventChecklistChanged:
		return true
	}
	return false
}

// messagesFor maps a timeline event to the channel events it causes.
func (s *Service) messagesFor(ctx context.Context, tx *store.Tx, ev *incident.Event) ([]planned, error) {
	str := func(k string) string { return dataString(ev, k) }
	switch ev.Kind {
	case incident.EventCreated:
		return []planned{{event: notify.Opened, to: string(incident.Active), public: true}}, nil
	case incident.EventTransitioned:
		return []planned{{event: notify.PhaseChanged, body: str("note"), from: str("from"), to: str("to"), public: true}}, nil
	case incident.EventReopened:
		return []planned{{event: notify.Reopened, body: str("reason"), from: str("from"), to: str("to"), public: true}}, nil
	case incident.EventUpdatePosted, incident.EventUpdateVisibility:
		vis := str("visibility")
		if ev.Kind == incident.EventUpdateVisibility {
			// Publishing an update tells public channels; withdrawing
			// one tells nobody (and stops messages not yet sent).
			if vis = str("to"); vis != string(incident.Public) {
				return nil, nil
			}
		}
		u, err := tx.Update(ctx, ev.Incident, ev.UpdateID)
		if err != nil {
			return nil, err
		}
		e := notify.UpdateInternal
		if vis == string(incident.Public) {
			e = notify.UpdatePublic
		}
		return []planned{{event: e, body: u.Body, updateID: u.ID, public: e == notify.UpdatePublic}}, nil
	case incident.EventChanged:
		for k := range ev.Data {
			if strings.HasPrefix(k, "owner_") {
				return []planned{{event: notify.OwnerChanged, public: true}}, nil
			}
		}
	case incident.EventChecklistChanged:
		if ev.Data["done"] == true {
			return []planned{{event: notify.ChecklistDone, body: str("text")}}, nil
		}
	case incident.EventAlertAttached:
		return []planned{{event: notify.AlertAttached, body: str("title")}}, nil
	case incident.EventAlertsResolved:
		return []planned{{event: notify.AlertsResolved}}, nil
	case incident.EventCancelled:
		return []planned{{event: notify.Cancelled, body: str("reason"), from: str("from"), to: string(incident.Cancelled), public: true}}, nil
	case incident.EventMerged:
		// A public channel hears of a merge only when the target is
		// public too: the message names it, and the reason may.
		return []planned{{event: notify.Merged, body: str("reason"), from: str("from"), to: "merged into #" + str("into"), public: !ev.Internal}}, nil
	}
	return nil, nil
}

// personal addresses the e-mails people get about their own work: a phase
// they now own, an incident entering the phase they own, a checklist item
// given to them. Nobody is told what they did themselves.
func (s *Service) personal(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event) ([]*notify.Delivery, error) {
	type note struct {
		user  string
		event notify.Event
		body  string
		phase string
	}
	var notes []note
	switch ev.Kind {
	case incident.EventCreated:
		for _, ph := range incident.Phases {
			if who := inc.Owners[ph]; who != "" {
				notes = append(notes, note{who, notify.YouOwnPhase, "", string(ph)})
			}
		}
	case incident.EventChanged:
		for k, v := range ev.Data {
			ph, ok := strings.CutPrefix(k, "owner_")
			if !ok {
				continue
			}
			if c, ok := v.(incident.Change); ok {
				if who, _ := c.To.(string); who != "" {
					notes = append(notes, note{who, notify.YouOwnPhase, "", ph})
				}
			}
		}
	case incident.EventTransitioned, incident.EventReopened:
		ph := incident.Phase(dataString(ev, "to"))
		if who := inc.Owners[ph]; who != "" {
			notes = append(notes, note{who, notify.YourPhaseEntered, dataString(ev, "note"), string(ph)})
		}
	case incident.EventChecklistAdded:
		if who := dataString(ev, "owner"); who != "" {
			notes = append(notes, note{who, notify.YourChecklistAssigned, dataString(ev, "text"), dataString(ev, "phase")})
		}
	case incident.EventChecklistChanged:
		if c, ok := ev.Data["owner"].(incident.Change); ok {
			if who, _ := c.To.(string); who != "" {
				notes = append(notes, note{who, notify.YourChecklistAssigned, dataString(ev, "text"), ""})
			}
		}
	}
	var names []string
	for _, n := range notes {
		if n.user != ev.Actor {
			names = append(names, n.user)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	people, err := tx.RecipientsByName(ctx, names)
	if err != nil {
		return nil, err
	}
	var out []*notify.Delivery
	for _, n := range notes {
		for _, r := range people {
			if r.Username != n.user || n.user == ev.Actor || r.Email == "" || !r.Notify || r.Disabled {
				continue
			}
			d := s.delivery(inc, ev, planned{event: n.event, body: n.body, to: n.phase})
			d.UserID = r.UserID
			d.Message.Headline = personalHeadline(n.event, inc, n.phase)
			out = append(out, d)
		}
	}
	return out, nil
}

func personalHeadline(e notify.Event, inc *incident.Incident, phase string) string {
	switch e {
	case notify.YouOwnPhase:
		return fmt.Sprintf("You now own phase %s of #%d", phase, inc.Number)
	case notify.YourPhaseEntered:
		return fmt.Sprintf("#%d moved to your phase: %s", inc.Number, phase)
	case notify.YourChecklistAssigned:
		return fmt.Sprintf("A checklist item of #%d is yours", inc.Number)
	}
	return fmt.Sprintf("#%d", inc.Number)
}

// delivery builds the outbox row for one planned message.
func (s *Service) delivery(inc *incident.Incident, ev *incident.Event, m planned) *notify.Delivery {
	key := newMessageID()
	msg := notify.Message{
		ID: key, Event: m.event, At: ev.At, Actor: ev.Actor, Incident: s.incidentSummary(inc),
		Body: m.body, From: m.from, To: m.to,
	}
	msg.Headline = headline(msg)
	return &notify.Delivery{Key: key, Incident: inc.Number, Event: m.event, Message: msg, CreatedAt: s.Now()}
}

// incidentSummary is what messages say about an incident.
func (s *Service) incidentSummary(inc *incident.Incident) notify.Incident {
	return notify.Incident{
		Number: inc.Number, Title: inc.Title, Phase: string(inc.Phase), Severity: string(inc.Severity),
		Services: inc.Services, Visibility: string(inc.Visibility), Owner: inc.Owners[inc.Phase],
		URL: fmt.Sprintf("%s/incidents/%d", s.baseURL, inc.Number), CreatedAt: inc.CreatedAt,
	}
}

// headline is a message's one line for people.
func headline(m notify.Message) string {
	n := m.Incident.Number
	switch m.Event {
	case notify.Opened:
		return fmt.Sprintf("#%d opened (%s)", n, m.Incident.Severity)
	case notify.PhaseChanged:
		return fmt.Sprintf("#%d moved to %s", n, m.To)
	case notify.Reopened:
		return fmt.Sprintf("#%d reopened (back to %s from %s)", n, m.To, m.From)
	case notify.UpdatePublic:
		return fmt.Sprintf("#%d: public update", n)
	case notify.UpdateInternal:
		return fmt.Sprintf("#%d: internal update", n)
	case notify.OwnerChanged:
		if m.Incident.Owner == "" {
			return fmt.Sprintf("#%d: owners changed; phase %s has no owner", n, m.Incident.Phase)
		}
		return fmt.Sprintf("#%d: owners changed; %s owns phase %s", n, m.Incident.Owner, m.Incident.Phase)
	case notify.AlertAttached:
		return fmt.Sprintf("#%d: alert attached", n)
	case notify.AlertsResolved:
		return fmt.Sprintf("#%d: every attached alert has resolved — mitigated?", n)
	case notify.ChecklistDone:
		return fmt.Sprintf("#%d: checklist item done", n)
	case notify.Merged:
		return fmt.Sprintf("#%d %s", n, m.To)
	case notify.Cancelled:
		return fmt.Sprintf("#%d cancelled (was %s)", n, m.From)
	case notify.Unowned:
		return fmt.Sprintf("#%d has no owner", n)
	case notify.Stuck:
		return fmt.Sprintf("#%d has been %s for %s", n, m.Incident.Phase, m.Body)
	case notify.Test:
		return "Test message from Quench"
	}
	return fmt.Sprintf("#%d", n)
}

// newMessageID makes an idempotency key in the Standard Webhooks style:
// "msg_", the time in milliseconds (10 characters) and 80 random bits (16
// characters), in an alphabet that sorts like the values it spells. Keys
// made later sort later, so the outbox's unique index on them grows at its
// end: a random key (as they were) put every new message on a random page
// of that index, one more 4 KB page written to SQLite's WAL (and later
// checkpointed) per message once the index outgrows a page or two
// (BenchmarkIngestOpens: 4.4 -> 3.8 pages per opened incident with 4,000
// messages stored, more as the outbox grows).
func newMessageID() string {
	var b [4 + 26]byte
	copy(b[:], "msg_")
	ms := uint64(time.Now().UnixMilli())
	for i := 13; i >= 4; i-- {
		b[i] = sortableBase32[ms&31]
		ms >>= 5
	}
	var r [10]byte
	rand.Read(r[:])
	// 80 bits, 5 at a time.
	var acc uint64
	bits, j := 0, 14
	for _, x := range r {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			b[j] = sortableBase32[(acc>>bits)&31]
			j++
		}
	}
	return string(b[:])
}

// sortableBase32 is Crockford's base32 alphabet in lower case: its
// characters sort in the order of their values.
const sortableBase32 = "0123456789abcdefghjkmnpqrstvwxyz"

// dataString reads a string field of an event's data, "" when absent.
func dataString(ev *incident.Event, key string) string {
	switch v := ev.Data[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// durationWords says how long, for people: "3 days", "5 hours".
func durationWords(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}
