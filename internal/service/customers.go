package service

import (
	"context"
	"errors"
	"slices"

	"github.com/quenchhq/quench/internal/incident"
	"github.com/quenchhq/quench/internal/notify"
	"github.com/quenchhq/quench/internal/status"
	"github.com/quenchhq/quench/internal/store"
)

// Messages to the status page's customers: its confirmed subscribers, and
// the people who reported a problem. They are planned in the transaction
// of the change they tell about, like every notification (outbox.go), and
// built from what the status page shows: the customer-facing title, the
// state, the public updates. Nothing written for the team (titles, notes,
// internal updates, owners, services) goes into them.

// planCustomers queues the messages an event causes for customers.
func (s *Service) planCustomers(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
	if !s.emailEnabled {
		return nil
	}
	switch ev.Kind {
	case incident.EventCreated, incident.EventChanged, incident.EventTransitioned, incident.EventReopened,
		incident.EventUpdatePosted, incident.EventUpdateVisibility, incident.EventCancelled, incident.EventMerged:
	default:
		return nil
	}
	if inc == nil {
		var err error
		if inc, err = tx.Incident(ctx, ev.Incident); err != nil {
			return err
		}
	}
	// A merged incident's reports moved with its alerts: its target tells
	// them. A cancelled one's reporters hear that it is resolved.
	if (ev.Kind == incident.EventTransitioned && dataString(ev, "to") == string(incident.Resolved)) || ev.Kind == incident.EventCancelled {
		if err := s.tellReporters(ctx, tx, inc, ev); err != nil {
			return err
		}
	}
	if !inc.Published() {
		return nil
	}
	var headline, body string
	var updateID int64
	title := inc.CustomerTitle()
	switch ev.Kind {
	case incident.EventCreated:
		headline = "Investigating: " + title
	case incident.EventChanged:
		c, ok := ev.Data["on_status_page"].(incident.Change)
		if !ok || c.To != true {
			return nil
		}
		headline = "Investigating: " + title
		if inc.Phase != incident.Active {
			headline = customerState(inc) + ": " + title
		}
	case incident.EventTransitioned:
		switch incident.Phase(dataString(ev, "to")) {
		case incident.Mitigated:
			headline, body = "Monitoring: "+title, "A fix is in place and we are watching the results."
		case incident.Resolved:
			headline, body = "Resolved: "+title, "This incident is resolved."
		default:
			return nil
		}
	case incident.EventReopened:
		headline, body = "Investigating again: "+title, "The problem came back; we are on it."
	case incident.EventCancelled:
		headline, body = "Resolved: "+title, "This incident is resolved."
	case incident.EventMerged:
		// The status page points to the incident it continues in when
		// customers see that one; the message says no more than that.
		headline, body = "Resolved: "+title, "We follow this up in another incident on the status page."
	case incident.EventUpdatePosted, incident.EventUpdateVisibility:
		vis := dataString(ev, "visibility")
		if ev.Kind == incident.EventUpdateVisibility {
			vis = dataString(ev, "to")
		}
		if vis != string(incident.Public) {
			return nil
		}
		u, err := tx.Update(ctx, ev.Incident, ev.UpdateID)
		if err != nil {
			return err
		}
		headline, body, updateID = "Update: "+title, u.Body, u.ID
	}
	subs, err := tx.Subscribers(ctx, true)
	if err != nil || len(subs) == 0 {
		return err
	}
	comps, err := tx.Components(ctx)
	if err != nil {
		return err
	}
	st, key, err := readStatusSettings(ctx, tx)
	if err != nil {
		return err
	}
	for _, sb := range subs {
		if !follows(sb, comps, inc.Services) {
			continue
		}
		id := newMessageID()
		msg := notify.Message{ID: id, Event: notify.StatusIncident, At: ev.At, Instance: pageName(st.Name), Headline: headline, Body: body,
			Incident: notify.Incident{Title: title, Phase: customerState(inc),
				URL: s.baseURL + "/status#incident-" + publicID(key, inc.Number)}}
		d := &notify.Delivery{Key: id, Incident: inc.Number, Event: notify.StatusIncident, SubscriberID: sb.ID, Message: msg, CreatedAt: s.Now()}
		if _, err := tx.EnqueueDelivery(ctx, d, updateID); err != nil {
			return err
		}
	}
	return nil
}

// follows reports whether a subscriber wants news of an incident on
// services: one who follows every component does; one who chose some
// does when the incident touches one of them.
func follows(sb *status.Subscriber, comps []*status.Component, services []string) bool {
	if len(sb.Components) == 0 {
		return true
	}
	for _, c := range comps {
		if slices.Contains(sb.Components, c.ID) && c.Affects(services) {
			return true
		}
	}
	return false
}

// customerState names where a published incident stands, for customers.
func customerState(inc *incident.Incident) string {
	if inc.Ended() {
		return "Resolved"
	}
	switch inc.Phase {
	case incident.Active:
		return status.Impact(inc.Severity).Label()
	case incident.Mitigated:
		return status.Monitoring.Label()
	}
	return "Resolved"
}

// tellReporters queues, once per report, a message to the people whose
// report joined the incident and who left an address. It says only that
// the problem they reported is resolved, and names the incident only as
// the status page does, if it is published.
func (s *Service) tellReporters(ctx context.Context, tx *store.Tx, inc *incident.Incident, ev *incident.Event) error {
	reports, err := tx.ReportsToTell(ctx, inc.Number)
	if err != nil || len(reports) == 0 {
		return err
	}
	st, key, err := readStatusSettings(ctx, tx)
	if err != nil {
		return err
	}
	for _, r := range reports {
		id := newMessageID()
		msg := notify.Message{ID: id, Event: notify.ReportResolved, At: ev.At, Instance: pageName(st.Name),
			Headline: "The problem you reported is resolved",
			Body: "Thank you for reporting a problem on " + r.CreatedAt.UTC().Format("2 January 2006") +
				". What you reported is resolved now."}
		if inc.Published() {
			msg.Incident = notify.Incident{Title: inc.CustomerTitle(), Phase: "Resolved",
				URL: s.baseURL + "/status#incident-" + publicID(key, inc.Number)}
		}
		d := &notify.Delivery{Key: id, Incident: inc.Number, Event: notify.ReportResolved, ReportID: r.ID, Message: msg, CreatedAt: s.Now()}
		if _, err := tx.EnqueueDelivery(ctx, d, 0); err != nil {
			return err
		}
		if err := tx.MarkReportTold(ctx, r.ID, ev.At); err != nil {
			return err
		}
	}
	return nil
}

// prepareCustomer looks at a message to a customer once more just before
// it is sent: the subscriber must still be there (and confirmed, for
// anything but the confirmation), the incident still published, the
// update still public; the signed links are made now.
func (s *Service) prepareCustomer(ctx context.Context, tx *store.Tx, d *notify.Delivery) (Target, string, error) {
	var t Target
	if !s.emailEnabled {
		return t, "e-mail is not set up", nil
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return t, "", err
	}
	if d.SubscriberID != 0 {
		sb, err := tx.Subscriber(ctx, d.SubscriberID)
		if errors.Is(err, store.ErrNotFound) {
			return t, "the subscriber unsubscribed", nil
		}
		if err != nil {
			return t, "", err
		}
		confirm := d.Event == notify.StatusConfirm
		switch {
		case confirm && !sb.ConfirmedAt.IsZero():
			return t, "the address is confirmed already", nil
		case !confirm && sb.ConfirmedAt.IsZero():
			return t, "the address is not confirmed", nil
		}
		t.Recipients, t.Customer = []string{sb.Email}, s.subscriberLinks(key, sb, confirm)
	} else {
		r, err := tx.Report(ctx, d.ReportID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && r.Contact == "") {
			return t, "the report has no address", nil
		}
		if err != nil {
			return t, "", err
		}
		t.Recipients, t.Customer = []string{r.Contact}, &notify.CustomerLinks{StatusPage: s.baseURL + "/status"}
	}
	if d.Incident == 0 {
		return t, "", nil
	}
	inc, err := tx.Incident(ctx, d.Incident)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inc.Confidential()) {
		return t, "the incident is confidential now", nil
	}
	if err != nil {
		return t, "", err
	}
	if d.SubscriberID != 0 && !inc.Published() {
		return t, "the incident is no longer on the status page", nil
	}
	uid, err := tx.DeliveryUpdate(ctx, d.ID)
	if err != nil || uid == 0 {
		return t, "", err
	}
	u, err := tx.Update(ctx, d.Incident, uid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Visibility != incident.Public) {
		return t, "the update is internal now", nil
	}
	return t, "", err
}
